// Live news of the book in progress. The event stream (GET /v1/books/current/events) is read
// with fetch() and a parser, since it needs the bearer header; when it drops, it reconnects
// with Last-Event-ID after the server's `retry:` (so nothing is missed); while it is down, or
// where streams cannot be read at all, GET /v1/books/current is polled instead.
import { api, apiFetch } from "../api.js";
import { EventStreamParser } from "./sse.js";

const EVENTS = "/v1/books/current/events";
const POLL_MS = 2500;
const SILENCE_MS = 45_000; // the server says something every 15 s: 45 s of nothing is a dead line
const streamsReadable = typeof ReadableStream !== "undefined" && "body" in Response.prototype;

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

export class BookFeed {
  /**
   * on.event(name, data): an event of the stream; on.snapshot(book | null): a fresh read of
   * the book (after a resync, a reconnect without an id, or a poll); on.gone(): no book any
   * more; on.signedOut(): the token is no longer accepted. watching(): whether something is
   * on its way (a page or a picture), so that polling is worth it.
   */
  constructor(on, watching) {
    this.on = on;
    this.watching = watching;
    this.lastEventId = "";
    this.retryMs = 3000;
    this.connected = false;
    this.controller = null;
  }

  start() {
    if (this.controller) return;
    this.controller = new AbortController();
    const { signal } = this.controller;
    if (streamsReadable) this.#stream(signal);
    this.#poll(signal);
  }

  stop() {
    this.controller?.abort();
    this.controller = null;
    this.connected = false;
  }

  async refresh() {
    const controller = this.controller;
    let book;
    try {
      book = await api("/v1/books/current");
    } catch (error) {
      if (!controller || controller.signal.aborted) return;
      if (error.status === 404) this.on.snapshot(null);
      else if (error.status === 401) this.on.signedOut();
      return; // anything else: the next poll or event brings the news
    }
    // a read that comes back after the feed was stopped (the book finished) is old news
    if (controller && !controller.signal.aborted) this.on.snapshot(book);
  }

  async #stream(signal) {
    while (!signal.aborted) {
      let wait = this.retryMs;
      try {
        const ended = await this.#readOnce(signal);
        if (ended === "gone" || ended === "signed-out") return;
      } catch (error) {
        if (signal.aborted) return;
        if (error.status === 401) {
          this.on.signedOut();
          return;
        }
        if (error.status === 400) this.lastEventId = ""; // an id the server cannot read
        if (error.retryAfter) wait = error.retryAfter * 1000;
      } finally {
        this.connected = false;
      }
      await sleep(wait, signal);
    }
  }

  async #readOnce(signal) {
    const headers = { Accept: "text/event-stream" };
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    const line = new AbortController();
    const stopLine = () => line.abort();
    signal.addEventListener("abort", stopLine);
    let silence = setTimeout(stopLine, SILENCE_MS);
    try {
      const response = await apiFetch(EVENTS, { headers, signal: line.signal });
      this.connected = true;
      // Opened without an id, the stream starts at the newest event: read the book after it.
      if (!this.lastEventId) await this.refresh();
      const parser = new EventStreamParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return "closed";
        clearTimeout(silence);
        silence = setTimeout(stopLine, SILENCE_MS);
        for (const event of parser.push(value)) {
          if (parser.lastEventId) this.lastEventId = parser.lastEventId;
          const ended = this.#handle(event);
          if (ended) return ended;
        }
        if (parser.retryMs !== null) this.retryMs = parser.retryMs;
      }
    } finally {
      clearTimeout(silence);
      signal.removeEventListener("abort", stopLine);
    }
  }

  #handle({ event, data }) {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch {
      return null;
    }
    if (event === "resync") {
      this.refresh();
    } else if (event === "book_gone") {
      this.lastEventId = "";
      this.on.gone();
      return "gone";
    } else if (event === "token_expired") {
      this.on.signedOut();
      return "signed-out";
    } else {
      this.on.event(event, payload);
    }
    return null;
  }

  async #poll(signal) {
    while (!signal.aborted) {
      await sleep(POLL_MS, signal);
      if (!signal.aborted && !this.connected && this.watching()) await this.refresh();
    }
  }
}
