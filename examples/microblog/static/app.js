// The microblog page: ListArticles over gRPC-Web (Server-Sent Events as the fallback),
// CreateArticle over gRPC-Web. The list shows the log in order, each article once.
"use strict";

const SERVICE = "microblog.v1.Microblog";
const list = document.getElementById("articles");
const statusLine = document.getElementById("status");
const errorLine = document.getElementById("error");
const seen = new Set();

// A record's value over Server-Sent Events is as stored: in the schema registry's wire
// format (a zero byte, a 4-byte schema id, the Protobuf message indexes as a count and
// that many zigzag varints, then the article) or, written before the microblog
// registered article.proto, the article's bytes alone (which never start with a zero).
function unframed(bytes) {
  if (bytes.length < 5 || bytes[0] !== 0) return bytes;
  let pos = 5;
  const varint = () => {
    let n = 0, shift = 0, b;
    do { b = bytes[pos++]; n += (b & 127) * 2 ** shift; shift += 7; } while (b & 128);
    return n;
  };
  const count = varint() / 2;  // zigzag: a count n >= 0 is written as 2n
  for (let i = 0; i < count; i++) varint();
  return bytes.subarray(pos);
}

function articleFrom(bytes) {
  const f = GrpcWeb.decode(bytes);
  return { id: f[1] || "", title: f[2] || "", content: f[3] || "", author: f[4] || "",
           createdAt: f[5] || 0 };
}

function live() {
  statusLine.textContent = seen.size + " article(s), live";
}

function show(article) {
  if (!article.id || seen.has(article.id)) return;
  seen.add(article.id);
  const item = document.createElement("li");
  item.dataset.id = article.id;
  const title = document.createElement("h2");
  title.textContent = article.title;
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.textContent = article.author + " · " + new Date(article.createdAt).toLocaleString();
  const content = document.createElement("p");
  content.textContent = article.content;
  item.append(title, meta, content);
  list.append(item);
  live();
}

async function listOverGrpcWeb() {
  await GrpcWeb.call(SERVICE + "/ListArticles", new Uint8Array(0),
                     (bytes) => show(articleFrom(bytes)), live);
}

function listOverSse() {
  document.getElementById("transport").textContent = "Server-Sent Events";
  const source = new EventSource("/v1/topics/articles/stream");
  source.onopen = live;
  source.addEventListener("record", (event) => {
    const record = JSON.parse(event.data);
    const bytes = record.encoding === "base64"
      ? Uint8Array.from(atob(record.value), (c) => c.charCodeAt(0))
      : new TextEncoder().encode(record.value || "");
    show(articleFrom(unframed(bytes)));
  });
  source.onerror = () => { statusLine.textContent = "reconnecting…"; };
}

// --- signing in (only when the server asks who is calling: logway serve --auth) ------

function showError(line, message) {
  line.textContent = message;
  line.hidden = !message;
}

async function account() {
  const response = await fetch("/auth/me", { cache: "no-store" });
  const section = document.getElementById("account");
  if (response.status === 404) return;  // a server without sign-in
  const me = response.ok ? await response.json() : null;
  if (me && me.via === "open") return;  // no --auth: nothing to sign in to
  section.hidden = false;
  if (me && me.csrf_token) GrpcWeb.headers["x-logway-csrf"] = me.csrf_token;
  if (!me || me.via === "anonymous") {
    document.getElementById("signin").hidden = false;
    return;
  }
  document.getElementById("whoami").hidden = false;
  document.getElementById("me").textContent =
    me.user + (me.groups.length ? " (" + me.groups.join(", ") + ")" : "");
  const author = document.getElementById("author");
  author.value = me.user;
  author.readOnly = true;
}

document.getElementById("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const response = await fetch("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: form.user.value, password: form.password.value }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    showError(document.getElementById("account-error"), body.message || "could not sign in");
    return;
  }
  location.reload();  // the list follows again, as the signed-in user
});

document.getElementById("signout").addEventListener("click", async () => {
  await fetch("/auth/logout", { method: "POST", headers: GrpcWeb.headers });
  location.reload();
});

// --- the live list ------------------------------------------------------------------

async function follow() {
  if (!window.ReadableStream || new URLSearchParams(location.search).has("sse")) {
    listOverSse();
    return;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      statusLine.textContent = "connecting…";
      await listOverGrpcWeb();
    } catch (error) {
      if (error.code === 16 || error.code === 7) {  // UNAUTHENTICATED, PERMISSION_DENIED
        statusLine.textContent = error.message;
        return;
      }
      if (attempt >= 2 && seen.size === 0) { listOverSse(); return; }
      statusLine.textContent = "reconnecting… (" + error.message + ")";
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** attempt, 10000)));
  }
}

document.getElementById("compose").addEventListener("submit", async (event) => {
  event.preventDefault();
  errorLine.hidden = true;
  const form = event.target;
  const request = GrpcWeb.encodeStrings([
    [1, form.title.value], [2, form.content.value], [3, form.author.value],
  ]);
  try {
    // the article shows up through the live list, in its place in the log
    await GrpcWeb.call(SERVICE + "/CreateArticle", request, () => {});
    form.title.value = "";
    form.content.value = "";
  } catch (error) {
    errorLine.textContent = error.message;
    errorLine.hidden = false;
  }
});

account().finally(follow);
