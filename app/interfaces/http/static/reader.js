// The shared book's reader (GET /read/{token}): its sheets come rendered by the server.
import { startReader } from "./book_pages.js";

startReader(document.getElementById("book"), document.querySelector(".controls"));
