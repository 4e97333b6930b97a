// The reader, one sheet at a time: buttons, arrow keys and swipes turn the pages, the page is
// in the URL fragment (#page-3, a reload stays there), and "read aloud" speaks the page in the
// book's language with the browser's speech synthesis, marking the sentence being read.
// It works on sheets already in the page: rendered by the server (a share link, reader.js) or
// built by a script (the owner reading a book of their shelf, web/owner_reader.js).

/** Turn the `.sheet`s of `book` (the cover, the story pages, the end) with `controls`. */
export function startReader(book, controls, language = document.documentElement.lang) {
  const sheets = [...book.querySelectorAll(".sheet")];
  const previous = controls.querySelector(".previous");
  const next = controls.querySelector(".next");
  const aloud = controls.querySelector(".aloud");
  const position = controls.querySelector(".position");
  let current = 0;

  function sheetFromHash() {
    const index = sheets.findIndex((sheet) => `#${sheet.id}` === window.location.hash);
    return index < 0 ? 0 : index;
  }

  function show(index, { updateHash = true } = {}) {
    stopReading();
    current = Math.max(0, Math.min(sheets.length - 1, index));
    sheets.forEach((sheet, i) => sheet.classList.toggle("current", i === current));
    previous.disabled = current === 0;
    next.disabled = current === sheets.length - 1;
    const pages = sheets.length - 2; // the cover and the end are not story pages
    const story = current >= 1 && current <= pages;
    position.textContent = story
      ? `${book.dataset.pageWord} ${current} ${book.dataset.ofWord} ${pages}`
      : "";
    aloud.hidden = !story || !("speechSynthesis" in window);
    if (updateHash) {
      history.replaceState(null, "", `#${sheets[current].id}`);
    }
  }

  // Read aloud: each sentence of the page's text in its own span, spoken one after another.
  function sentencesOf(sheet) {
    const text = sheet.querySelector(".text");
    if (!text) return [];
    if (!text.dataset.split) {
      const parts = text.textContent.match(/[^.!?。！？]+[.!?。！？]*\s*/g) || [text.textContent];
      text.replaceChildren(
        ...parts.map((part) => {
          const span = document.createElement("span");
          span.textContent = part;
          return span;
        }),
      );
      text.dataset.split = "yes";
    }
    return [...text.querySelectorAll("span")];
  }

  let reading = false;

  function stopReading() {
    reading = false;
    aloud.setAttribute("aria-pressed", "false");
    if ("speechSynthesis" in window) window.speechSynthesis.cancel();
    book.querySelectorAll(".reading").forEach((span) => span.classList.remove("reading"));
  }

  function readAloud() {
    if (reading) {
      stopReading();
      return;
    }
    const spans = sentencesOf(sheets[current]);
    reading = true;
    aloud.setAttribute("aria-pressed", "true");
    const speak = (i) => {
      spans.forEach((span) => span.classList.remove("reading"));
      if (!reading || i >= spans.length) {
        stopReading();
        return;
      }
      spans[i].classList.add("reading");
      const utterance = new SpeechSynthesisUtterance(spans[i].textContent);
      utterance.lang = language;
      utterance.onend = () => speak(i + 1);
      utterance.onerror = () => stopReading();
      window.speechSynthesis.speak(utterance);
    };
    speak(0);
  }

  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowRight" || event.key === "PageDown") show(current + 1);
    else if (event.key === "ArrowLeft" || event.key === "PageUp") show(current - 1);
    else return;
    event.preventDefault();
  }

  // A horizontal swipe of more than 50 px turns the page; vertical ones scroll as usual.
  let touchStart = null;
  book.addEventListener("pointerdown", (event) => {
    touchStart = { x: event.clientX, y: event.clientY };
  });
  book.addEventListener("pointerup", (event) => {
    if (!touchStart) return;
    const dx = event.clientX - touchStart.x;
    const dy = event.clientY - touchStart.y;
    touchStart = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > Math.abs(dy)) show(current + (dx < 0 ? 1 : -1));
  });

  previous.addEventListener("click", () => show(current - 1));
  next.addEventListener("click", () => show(current + 1));
  aloud.addEventListener("click", readAloud);
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", () => show(sheetFromHash(), { updateHash: false }));

  document.documentElement.classList.add("paged");
  controls.hidden = false;
  show(sheetFromHash(), { updateHash: false });
}
