// The sandbox workspace page: renders the Block Kit deploybot sends and acts as alice, bob or carol.
"use strict";
const state = { version: -1, user: "U0ALICE", channel: "C0DEPLOYS", thread: null, data: null, home: false, clockAt: 0 };
const EMOJI = {
  white_check_mark: "✅", x: "❌", rocket: "🚀", hourglass: "⌛", hourglass_flowing_sand: "⏳",
  traffic_light: "🚦", twisted_rightwards_arrows: "🔀", rewind: "⏪", arrow_forward: "▶️",
  fast_forward: "⏩", no_entry_sign: "🚫", gear: "⚙️", octagonal_sign: "🛑", building_construction: "🏗️",
  lock: "🔒", unlock: "🔓", alarm_clock: "⏰", eyes: "👀", grey_question: "❔", mag: "🔍", warning: "⚠️",
  package: "📦", arrows_counterclockwise: "🔄", busstop: "🚏", snowflake: "❄️", sunny: "☀️", rotating_light: "🚨", memo: "📝",
};
const $ = (sel) => document.querySelector(sel);

function escapeHtml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
function decodeSlack(s) { return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"); }
function channelName(id) {
  const c = (state.data?.channels || []).find((x) => x.id === id);
  return c ? c.name : id;
}
function userName(id) {
  const u = (state.data?.users || []).find((x) => x.id === id);
  return u ? u.name : id;
}
function formatText(html) {
  return html
    .replace(/```([\s\S]*?)```/g, "<pre>$1</pre>")
    .replace(/`([^`\n]+)`/g, "<code>$1</code>")
    .replace(/(^|[\s(])\*([^*\n]+)\*/g, "$1<b>$2</b>")
    .replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>")
    .replace(/:([a-z_]+):/g, (m, name) => EMOJI[name] || m)
    .replace(/\n/g, "<br>");
}
// Slack mrkdwn -> safe HTML: control sequences <...> become mentions or links, all else is escaped.
function mrkdwn(text) {
  const parts = String(text || "").split(/<([^<>]+)>/);
  return parts.map((part, i) => {
    if (i % 2 === 0) return formatText(escapeHtml(decodeSlack(part)));
    const [target, label] = part.split("|");
    if (target.startsWith("@")) return `<span class="mention">@${escapeHtml(userName(target.slice(1)))}</span>`;
    if (target.startsWith("#")) return `<span class="mention">#${escapeHtml(label || channelName(target.slice(1)))}</span>`;
    if (target.startsWith("!subteam^")) return `<span class="mention">@deploy-approvers</span>`;
    if (target.startsWith("!")) return `<span class="mention">@${escapeHtml(target.slice(1))}</span>`;
    if (/^https?:\/\//.test(target)) {
      return `<a href="${escapeHtml(target)}" target="_blank" rel="noopener">${escapeHtml(decodeSlack(label || target))}</a>`;
    }
    return escapeHtml(part);
  }).join("");
}
function emoji(html) { return html.replace(/:([a-z_]+):/g, (m, name) => EMOJI[name] || m); }
function textOf(obj) { return obj ? (obj.type === "plain_text" ? emoji(escapeHtml(obj.text)) : mrkdwn(obj.text)) : ""; }

function renderBlocks(msg) {
  if (!msg.blocks || !msg.blocks.length) return `<div>${mrkdwn(msg.text)}</div>`;
  return msg.blocks.map((b) => {
    if (b.type === "header") return `<div class="block-header">${textOf(b.text)}</div>`;
    if (b.type === "divider") return `<hr class="block-divider">`;
    if (b.type === "context") return `<div class="block-context">${b.elements.map(textOf).join(" ")}</div>`;
    if (b.type === "section") {
      const fields = b.fields ? `<div class="block-fields">${b.fields.map((f) => `<div>${textOf(f)}</div>`).join("")}</div>` : "";
      const acc = b.accessory && b.accessory.type === "button"
        ? `<button class="${b.accessory.style || ""}" data-home-action="${escapeHtml(b.accessory.action_id)}"
            data-value="${escapeHtml(b.accessory.value || "")}">${escapeHtml(b.accessory.text.text)}</button>` : "";
      return `<div class="block-section${acc ? " with-accessory" : ""}">${b.text ? `<div>${textOf(b.text)}</div>` : ""}${fields}${acc}</div>`;
    }
    if (b.type === "actions" && msg.home) {
      return `<div class="block-actions">${b.elements.map((e) =>
        `<button class="${e.style || ""}" data-home-action="${escapeHtml(e.action_id)}"
          data-value="${escapeHtml(e.value || "")}">${escapeHtml(e.text.text)}</button>`).join("")}</div>`;
    }
    if (b.type === "actions") {
      return `<div class="block-actions">${b.elements.map((e, i) =>
        `<button class="${e.style || ""}" data-ts="${escapeHtml(msg.ts)}" data-action="${escapeHtml(e.action_id)}"
          data-block="${escapeHtml(b.block_id || "")}" data-index="${i}">${escapeHtml(e.text.text)}</button>`).join("")}</div>`;
    }
    return "";
  }).join("");
}
function renderMessage(msg, { inThread = false } = {}) {
  // 24-hour, as the AWS panel's clock and every time deploybot writes.
  const when = new Date(parseFloat(msg.ts) * 1000).toLocaleTimeString("en-GB", { hour12: false, timeZone: "UTC" });
  const replies = !inThread && msg.reply_count
    ? `<div class="replies" data-open-thread="${escapeHtml(msg.ts)}">${msg.reply_count} repl${msg.reply_count === 1 ? "y" : "ies"}</div>` : "";
  return `<div class="msg" data-ts="${escapeHtml(msg.ts)}"><span class="who">${escapeHtml(msg.user_name || msg.user)}</span>
    <span class="when">${when}</span>${renderBlocks(msg)}${replies}</div>`;
}
function renderEphemeral(e) {
  return `<div class="msg ephemeral"><span class="only-you">Only visible to you</span>${renderBlocks(e)}</div>`;
}

function currentChannel() { return (state.data?.channels || []).find((c) => c.id === state.channel); }
function render() {
  const data = state.data;
  if (!data) return;
  $("#user").innerHTML = data.users.map((u) =>
    `<option value="${u.id}" ${u.id === state.user ? "selected" : ""}>${u.name} (${u.title})</option>`).join("");
  $("#channels").innerHTML = data.channels.map((c) =>
    `<li data-channel="${c.id}" class="${!state.home && c.id === state.channel ? "active" : ""}"># ${escapeHtml(c.name)}</li>`).join("");
  $("#apps li").classList.toggle("active", state.home);
  $("#transport").textContent = `bot ${data.bot_connected ? "connected" : "not connected"} (${data.transport === "http" ? "HTTP mode" : "Socket Mode"})`;
  renderModal(data.modal, data.options || []);
  renderAws(data.aws);
  $("#messages").hidden = state.home;
  $("#composer").hidden = state.home;
  $("#home").hidden = !state.home;
  if (state.home) {
    $("#channel-name").textContent = "deploybot · Home";
    const html = data.home ? renderBlocks({ blocks: data.home.blocks, home: true })
      : `<p class="muted">Opening deploybot's Home tab…</p>`;
    // Replaced only when it changed: a re-render between a press and its release would lose the click.
    if (html !== state.homeHtml) { $("#home").innerHTML = html; state.homeHtml = html; }
    return;
  }
  const ch = currentChannel();
  $("#channel-name").textContent = `# ${ch.name}`;
  const top = ch.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts || m.subtype === "thread_broadcast");
  const items = top.map((m) => ({ ts: parseFloat(m.ts), html: renderMessage(m) }))
    .concat(ch.ephemerals.filter((e) => !e.thread_ts).map((e) => ({ ts: parseFloat(e.ts), html: renderEphemeral(e) })))
    .sort((a, b) => a.ts - b.ts);
  const box = $("#messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.innerHTML = items.map((i) => i.html).join("");
  if (atBottom) box.scrollTop = box.scrollHeight;
  if (state.thread) {
    const root = ch.messages.find((m) => m.ts === state.thread);
    const replies = ch.messages.filter((m) => m.thread_ts === state.thread && m.ts !== state.thread);
    $("#thread").hidden = !root;
    const pane = $("#thread-messages");
    const following = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40;
    if (root) pane.innerHTML = [root, ...replies].map((m) => renderMessage(m, { inThread: true })).join("");
    if (following) pane.scrollTop = pane.scrollHeight;  // new replies stay in sight
  }
}
function renderModal(modal, options) {
  const box = $("#view-modal");
  if (!modal) { box.hidden = true; return; }
  const focused = document.activeElement && document.activeElement.id;
  const typed = $("#ext-input") ? $("#ext-input").value : "";
  box.hidden = false;
  const v = modal.view;
  $("#view-title").textContent = v.title ? v.title.text : "";
  $("#view-submit").textContent = v.submit ? v.submit.text : "Submit";
  $("#view-close").textContent = v.close ? v.close.text : "Cancel";
  $("#view-error").textContent = modal.errors[""] || "";
  $("#view-blocks").innerHTML = v.blocks.map((b) => {
    if (b.type !== "input") return renderBlocks({ blocks: [b] });
    const e = b.element;
    const picked = ((modal.values[b.block_id] || {})[e.action_id] || {}).selected_option;
    const error = modal.errors[b.block_id] ? `<div class="field-error">${escapeHtml(modal.errors[b.block_id])}</div>` : "";
    const hint = b.hint ? `<div class="hint">${escapeHtml(b.hint.text)}</div>` : "";
    let control;
    if (e.type === "checkboxes") {
      const ticked = ((modal.values[b.block_id] || {})[e.action_id] || {}).selected_options || [];
      control = e.options.map((o) => `<label class="checkbox"><input type="checkbox" data-tick="${escapeHtml(e.action_id)}"
        value="${escapeHtml(o.value)}" ${ticked.some((t) => t.value === o.value) ? "checked" : ""}> ${escapeHtml(o.text.text)}
        ${o.description ? `<div class="hint">${escapeHtml(o.description.text)}</div>` : ""}</label>`).join("");
    } else if (e.type === "static_select") {
      control = `<select data-pick="${escapeHtml(e.action_id)}">${picked ? "" : `<option value="">${escapeHtml(e.placeholder ? e.placeholder.text : "Choose")}</option>`}
        ${e.options.map((o) => `<option value="${escapeHtml(o.value)}" ${picked && picked.value === o.value ? "selected" : ""}>${escapeHtml(o.text.text)}</option>`).join("")}</select>`;
    } else {
      const list = options.map((o) => `<div data-suggestion="${escapeHtml(o.value)}" data-action="${escapeHtml(e.action_id)}">${escapeHtml(o.text.text)}</div>`).join("");
      control = `<input id="ext-input" data-external="${escapeHtml(e.action_id)}" placeholder="${escapeHtml(e.placeholder ? e.placeholder.text : "")}"
        value="${escapeHtml(picked ? picked.text.text : "")}" autocomplete="off">
        ${state.suggesting ? `<div class="suggestions" data-testid="suggestions">${list || `<div class="muted">No results</div>`}</div>` : ""}`;
    }
    const optional = b.optional ? ` <span class="muted">(optional)</span>` : "";
    return `<div class="input-block"><label>${escapeHtml(b.label.text)}${optional}</label>${control}${hint}${error}</div>`;
  }).join("");
  if (focused === "ext-input" && $("#ext-input")) { $("#ext-input").value = typed; $("#ext-input").focus(); }
}
function viewOp(body) { return post("/_sandbox/view", { user: state.user, ...body }); }
async function suggest(actionId, typed) {
  state.suggesting = true;
  await viewOp({ op: "suggest", action_id: actionId, value: typed });
}
function renderAws(aws) {
  if (!aws) { $("#aws").hidden = true; return; }
  state.clockAt = Date.now();
  showClock();
  $("#services").innerHTML = aws.services.map((s) => `<div class="svc" data-service="${s.name}">
    <div class="name">${s.name} <span class="muted">${escapeHtml(s.task_definition)}</span></div>
    <div class="muted">${escapeHtml(s.engine)} · ${escapeHtml(s.strategy)}</div>
    <div>running <code>${escapeHtml(s.version)}</code></div>
    ${s.deployments.map(renderDeployment).join("")}
    <label><input type="checkbox" data-fault="fail_next" ${s.fail_next ? "checked" : ""}> ${escapeHtml(s.fail_label)}</label>
    ${s.alarm === null ? "" : `<br><label><input type="checkbox" data-fault="alarm" ${s.alarm ? "checked" : ""}> alarm in ALARM</label>`}</div>`).join("");
}
// The AWS clock runs between snapshots too (at its speed), instead of freezing until the next change.
function showClock() {
  const aws = state.data && state.data.aws;
  if (!aws) return;
  const base = Date.parse(aws.clock);
  const now = aws.manual ? base : base + (Date.now() - state.clockAt) * aws.speed;
  const shown = new Date(now).toISOString().slice(0, 19).replace("T", " ");
  $("#clock").textContent = `clock ${shown} UTC · ${aws.manual ? "manual" : `×${aws.speed}`}`;
}
setInterval(showClock, 1000);
function renderDeployment(d) {
  const weight = Number(d.weight);
  const stage = d.stage ? ` · <code>${escapeHtml(d.stage)}</code>${d.paused ? " ⏸ paused" : ""}` : "";
  const test = d.test_weight === null || d.test_weight === undefined ? "" : ` · test ${Number(d.test_weight)}%`;
  return `<div class="muted">${escapeHtml(d.id)} ${escapeHtml(d.status)}${d.rollback ? " (rollback)" : ""}${stage}</div>
    <div class="bar-wrap" title="${weight}% on the new version"><div class="bar" style="width:${weight}%"></div></div>
    <div class="muted">${weight.toFixed(0)}% new${test}</div>`;
}
async function post(path, body) {
  const resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return resp.ok ? resp.json() : { ok: false, error: await resp.text() };
}
async function poll() {
  for (;;) {
    try {
      const asked = state.user;
      state.polling = new AbortController();
      const resp = await fetch(`/_sandbox/state?since=${state.version}&user=${asked}`, { signal: state.polling.signal });
      const data = await resp.json();
      if (asked !== state.user) continue;  // switched meanwhile: that answer shows someone else's view
      state.version = data.version;
      state.data = data;
      render();
    } catch (err) {
      if (err.name === "AbortError") continue;  // the person switched: ask again for the new one at once
      console.error("sandbox page:", err);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
async function refresh() {
  const asked = state.user;
  const resp = await fetch(`/_sandbox/state?since=-1&user=${asked}`);
  const data = await resp.json();
  if (asked !== state.user) return;
  state.data = data;
  state.version = state.data.version;
  render();
}
function confirmDialog(confirm) {
  return new Promise((resolve) => {
    $("#modal-title").textContent = confirm.title.text;
    $("#modal-text").textContent = confirm.text.text;
    $("#modal-confirm").textContent = confirm.confirm.text;
    $("#modal-deny").textContent = confirm.deny.text;
    $("#modal").hidden = false;
    const done = (answer) => { $("#modal").hidden = true; resolve(answer); };
    $("#modal-confirm").onclick = () => done(true);
    $("#modal-deny").onclick = () => done(false);
  });
}

document.addEventListener("click", async (ev) => {
  const s = ev.target.closest("[data-suggestion]");
  if (s) { state.suggesting = false; await viewOp({ op: "pick", action_id: s.dataset.action, value: s.dataset.suggestion }); return; }
  const t = ev.target.closest("button, li, .replies");
  if (!t) return;
  if (t.dataset.channel) { state.home = false; state.channel = t.dataset.channel; state.thread = null; $("#thread").hidden = true; render(); }
  if (t.dataset.home) { state.home = true; state.thread = null; $("#thread").hidden = true; render(); await viewOp({ op: "open_home" }); }
  if (t.dataset.homeAction) {
    const ok = await viewOp({ op: "press", action_id: t.dataset.homeAction, value: t.dataset.value || null });
    if (ok.error) console.warn(`That did not work: ${ok.error}`);
  }
  if (t.id === "view-submit") { state.suggesting = false; await viewOp({ op: "submit" }); }
  if (t.id === "view-close") { state.suggesting = false; await viewOp({ op: "close" }); }
  if (t.dataset.openThread) { state.thread = t.dataset.openThread; render(); }
  if (t.id === "close-thread") { state.thread = null; $("#thread").hidden = true; }
  if (t.dataset.action) {
    const msg = currentChannel().messages.find((m) => m.ts === t.dataset.ts);
    const block = msg.blocks.find((b) => b.type === "actions" && (b.block_id || "") === t.dataset.block);
    const element = block.elements[Number(t.dataset.index)];
    if (element.confirm && !(await confirmDialog(element.confirm))) return;
    await post("/_sandbox/click", { user: state.user, channel: state.channel, ts: t.dataset.ts, action_id: t.dataset.action });
  }
  if (t.dataset.advance) await post("/_sandbox/aws", { action: "advance", seconds: Number(t.dataset.advance) });
  if (t.id === "throttle") await post("/_sandbox/aws", { action: "throttle", operation: $("#throttle-op").value, count: 3 });
  if (t.dataset.slackFault) await post("/_sandbox/faults", { method: $("#slack-fault-method").value, kind: t.dataset.slackFault, count: 1 });
});
document.addEventListener("change", async (ev) => {
  const t = ev.target;
  if (t.id === "user") {
    state.user = t.value;
    if (state.polling) state.polling.abort();
    // The previous person's Home tab must not stay on screen (its buttons would press as the new one).
    state.homeHtml = null;
    $("#home").innerHTML = `<p class="muted">Opening deploybot's Home tab…</p>`;
    await refresh();
    if (state.home) await viewOp({ op: "open_home" });
  }
  if (t.dataset.pick && t.value) await viewOp({ op: "pick", action_id: t.dataset.pick, value: t.value });
  if (t.dataset.tick) await viewOp({ op: "pick", action_id: t.dataset.tick, value: t.value });
  if (t.id === "rate-limits") await post("/_sandbox/faults", { rate_limits: t.checked });
  if (t.dataset.fault) {
    const service = t.closest(".svc").dataset.service;
    await post("/_sandbox/aws", { action: t.dataset.fault, service, on: t.checked });
  }
});
document.addEventListener("focusin", async (ev) => {
  if (ev.target.dataset && ev.target.dataset.external) await suggest(ev.target.dataset.external, ev.target.value);
});
document.addEventListener("input", async (ev) => {
  if (ev.target.dataset && ev.target.dataset.external) await suggest(ev.target.dataset.external, ev.target.value);
});
$("#composer").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("#composer-input").value.trim();
  if (!text) return;
  $("#composer-input").value = "";
  await post("/_sandbox/command", { user: state.user, channel: state.channel, text });
});
refresh().then(poll);
