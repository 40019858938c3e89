// pgdag web admin: the little that needs script. Everything works for reading without it;
// htmx (vendored) refreshes the live parts, and this file tails task logs.
"use strict";

// Tail a task's log: fetch what was written after `data-after` and append it as text (never
// as HTML), every second until the task has ended and every chunk has arrived.
function tailLog(pre) {
  const id = pre.dataset.task;
  let after = Number(pre.dataset.after || 0);
  const status = document.getElementById("log-status");
  async function tick() {
    let page;
    try {
      const response = await fetch(`/api/v1/task-instances/${id}/log?after=${after}`, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      page = await response.json();
    } catch (e) {
      if (status) status.textContent = `Lost the log (${e.message}); retrying…`;
      setTimeout(tick, 3000);
      return;
    }
    if (page.text) {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.append(document.createTextNode(page.text));
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
    after = page.next_seq;
    pre.dataset.after = String(after);
    if (page.finished) {
      pre.dataset.finished = "true";
      if (status) status.textContent = "The task has ended.";
      const badge = document.getElementById("task-state");
      if (badge) refreshState(badge);
    } else {
      setTimeout(tick, page.text ? 300 : 1000);
    }
  }
  tick();
}

// After the log ends, show the task's final state without reloading the page.
async function refreshState(badge) {
  try {
    const response = await fetch(location.pathname, { credentials: "same-origin" });
    const html = await response.text();
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fresh = doc.getElementById("task-state");
    if (fresh) { badge.className = fresh.className; badge.textContent = fresh.textContent; }
  } catch (_) { /* the badge stays as it was */ }
}

// "Load earlier output" on a long log: fetch the part before the first chunk shown and put
// it in front (as text), keeping what is on screen in place. Without script the link opens
// that part as a page of its own.
async function loadEarlier(link) {
  const pre = document.getElementById("log");
  const before = Number(link.dataset.before || 0);
  if (!pre || before <= 0 || link.dataset.busy) return;
  link.dataset.busy = "1";
  try {
    const response = await fetch(`/api/v1/task-instances/${link.dataset.task}/log?tail=500&before=${before}`, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const page = await response.json();
    const height = pre.scrollHeight;
    pre.prepend(document.createTextNode(page.text));
    pre.scrollTop += pre.scrollHeight - height;
    const first = Number(page.first_seq || 0);
    if (first <= 0 || first >= before) {
      const row = document.getElementById("log-earlier-row");
      if (row) row.remove();
    } else {
      link.dataset.before = String(first);
      link.href = `/task-instances/${link.dataset.task}/log?before=${first}`;
    }
  } catch (e) {
    link.textContent = `Load earlier output (failed: ${e.message}; try again)`;
  } finally {
    delete link.dataset.busy;
  }
}

document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("#log-earlier");
  if (!link) return;
  event.preventDefault();
  loadEarlier(link);
});

// Forms that ask before they act carry `data-confirm` (no inline handlers: the pages'
// Content-Security-Policy allows only this site's script files).
document.addEventListener("submit", (event) => {
  const message = event.target.dataset && event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
}, true);

document.addEventListener("DOMContentLoaded", () => {
  const pre = document.getElementById("log");
  if (pre && pre.dataset.finished !== "true") tailLog(pre);
});
