// A Server-Sent Events parser (the WHATWG event-stream format) for streams read with fetch():
// EventSource cannot send the Authorization header. Feed it text as it arrives; it gives back
// each complete event, and keeps the last event id and the server's `retry:` hint.
export class EventStreamParser {
  #buffer = "";
  #event = "";
  #data = [];
  #id = null;
  lastEventId = "";
  retryMs = null;

  /** The events completed by this chunk of text: [{event, data, id}]. */
  push(chunk) {
    this.#buffer += chunk;
    const events = [];
    let newline;
    while ((newline = this.#buffer.search(/\r\n|\r|\n/)) >= 0) {
      // a lone \r at the very end may be the first half of \r\n: wait for the next chunk
      if (this.#buffer[newline] === "\r" && newline === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, newline);
      const width = this.#buffer.startsWith("\r\n", newline) ? 2 : 1;
      this.#buffer = this.#buffer.slice(newline + width);
      const event = this.#line(line);
      if (event) events.push(event);
    }
    return events;
  }

  #line(line) {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return null; // a comment: the keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id" && !value.includes("\0")) this.#id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
    return null;
  }

  #dispatch() {
    if (this.#id !== null) this.lastEventId = this.#id;
    const event = this.#data.length
      ? { event: this.#event || "message", data: this.#data.join("\n"), id: this.#id }
      : null;
    this.#event = "";
    this.#data = [];
    this.#id = null;
    return event;
  }
}
