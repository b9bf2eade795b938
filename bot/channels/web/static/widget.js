/*!
 * Front Door web chat widget.
 *
 * Embed with a single tag:
 *   <script src="https://frontdoor.example/webchat/widget.js"
 *           data-frontdoor-url="https://frontdoor.example"
 *           data-open="true" defer></script>
 *
 * Plain JavaScript, no build step. The server sends this file with the shared
 * scripts in front of it, in one private scope (core/web_assets.py): DOMPurify,
 * core/static/dom.js and core/static/safe-html.js. Every value that comes
 * from the server or the customer is rendered with textContent; the only
 * thing ever parsed as HTML is the server-sanitised `html` of bot/agent
 * entries, which is additionally filtered through the shared allow-list.
 *
 * Every label comes from the server (bot/channels/web/labels.py, the `widget`
 * catalogue), in front of this file: FrontDoorWidgetConfig holds each
 * language's table and the one to start with. The session, the history and a
 * "language" frame say the customer's language; the labels switch at once.
 */
(() => {
  'use strict';

  if (window.FrontDoor && window.FrontDoor.__frontdoor) {
    return; // already embedded on this page
  }

  const { el } = globalThis.FrontDoorDom;
  const { sanitize } = globalThis.FrontDoorSafeHtml;

  // ---------------------------------------------------------------------
  // Configuration
  // ---------------------------------------------------------------------

  const TOKEN_KEY = 'frontdoor.token';
  const MAX_LEN = 2000;
  const COUNTER_FROM = 1800;
  const BACKOFF_BASE_MS = 1000;
  const BACKOFF_MAX_MS = 15000;
  const HISTORY_WAIT_MS = 2000; // flush the outbox anyway if no history arrives
  const TYPING_TIMEOUT_MS = 45000; // safety net if "typing off" is never sent
  const ERROR_TIMEOUT_MS = 12000;
  const PING_EVERY_MS = 25000; // keeps idle proxies from dropping the socket
  const PONG_WAIT_MS = 10000; // no frame at all by then: the socket is dead
  const CHANNEL_NAMES = { telegram: 'Telegram', slack: 'Slack', sms: 'SMS' };
  const CONFIG = globalThis.FrontDoorWidgetConfig || { language: 'en', labels: { en: {} } };
  let labelLanguage = CONFIG.labels[CONFIG.language] ? CONFIG.language : Object.keys(CONFIG.labels)[0];
  const labelled = []; // [node, attribute or null for text, key]: relabelled on a switch

  /** A label in the widget's language, with {placeholders} filled in. */
  function t(key, values) {
    const table = CONFIG.labels[labelLanguage] || {};
    let s = typeof table[key] === 'string' ? table[key] : key;
    if (values) {
      s = s.replace(/\{(\w+)\}/g, (m, name) => (name in values ? String(values[name]) : m));
    }
    return s;
  }

  /** Set a label on a node (its text, or an attribute) and keep it in the
   * widget's language from now on. */
  function label(node, attr, key, values) {
    labelled.push([node, attr, key, values]);
    applyLabel(node, attr, key, values);
    return node;
  }

  function applyLabel(node, attr, key, values) {
    if (attr) {
      node.setAttribute(attr, t(key, values));
    } else {
      node.textContent = t(key, values);
    }
  }

  /** Speak `code` from now on (the customer's language changed): every label
   * already shown is said again in it. Unknown codes are ignored. */
  function setLanguage(code) {
    if (typeof code !== 'string' || !CONFIG.labels[code] || code === labelLanguage) {
      return;
    }
    labelLanguage = code;
    if (ui) {
      relabel();
    }
  }

  function relabel() {
    ui.root.setAttribute('lang', labelLanguage);
    for (let i = labelled.length - 1; i >= 0; i--) {
      const [node, attr, key, values] = labelled[i];
      if (!node.isConnected) {
        labelled.splice(i, 1); // a message removed from the conversation
      } else {
        applyLabel(node, attr, key, values);
      }
    }
    setStatus(ui.status.getAttribute('data-state') || 'connecting');
    if (ui.messages.querySelector('.fd-topics')) {
      renderGreeting(); // the topics' titles in the new language
    }
    updateBadge();
    pendingOrder.forEach((cid) => {
      setPendingState(pending[cid], pending[cid].state);
    });
    const times = ui.messages.querySelectorAll('time.fd-time');
    for (let i = 0; i < times.length; i++) {
      times[i].textContent = formatTime(Number(times[i].getAttribute('data-ts')));
    }
    updateComposer();
  }

  const script = findOwnScript();
  const base = resolveBase(script);
  const wsBase = toWsBase(base);
  // data-open opens the panel on page load, but not on a phone-sized screen,
  // where the panel would cover the whole page: there only the launcher shows.
  const PHONE_QUERY = '(max-width: 640px)';
  const startOpen = !!script && /^(true|1|yes|open)$/i.test(script.getAttribute('data-open') || '') &&
    !(window.matchMedia && window.matchMedia(PHONE_QUERY).matches);

  // ---------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------

  function findOwnScript() {
    const s = document.currentScript;
    if (s && s.tagName === 'SCRIPT') {
      return s;
    }
    const all = document.getElementsByTagName('script');
    for (let i = all.length - 1; i >= 0; i--) {
      const src = all[i].getAttribute('src') || '';
      if (/widget\.js$/.test(src.split(/[?#]/)[0])) {
        return all[i];
      }
    }
    return null;
  }

  function resolveBase(s) {
    const raw = s ? (s.getAttribute('data-frontdoor-url') || '').trim() : '';
    try {
      if (raw) {
        return new URL(raw, window.location.href).href.replace(/\/+$/, '');
      }
      if (s && s.src) {
        return new URL(s.src, window.location.href).origin;
      }
    } catch (e) {
      /* fall through */
    }
    return window.location.origin;
  }

  function toWsBase(httpBase) {
    const u = new URL(httpBase);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href.replace(/\/+$/, '');
  }

  let memoryToken = null;

  function loadToken() {
    try {
      return window.localStorage.getItem(TOKEN_KEY) || memoryToken;
    } catch (e) {
      return memoryToken;
    }
  }

  function saveToken(t) {
    memoryToken = t;
    try {
      if (t) {
        window.localStorage.setItem(TOKEN_KEY, t);
      } else {
        window.localStorage.removeItem(TOKEN_KEY);
      }
    } catch (e) {
      /* storage unavailable (private mode, blocked): keep it in memory */
    }
  }

  function newClientId() {
    const c = window.crypto;
    if (c && typeof c.randomUUID === 'function') {
      try {
        return c.randomUUID();
      } catch (e) {
        /* not a secure context */
      }
    }
    const bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') {
      c.getRandomValues(bytes);
    } else {
      for (let i = 0; i < 16; i++) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = '';
    for (let j = 0; j < 16; j++) {
      hex += (bytes[j] + 0x100).toString(16).slice(1);
      if (j === 3 || j === 5 || j === 7 || j === 9) {
        hex += '-';
      }
    }
    return hex;
  }

  /** Length in Unicode code points (what the server's len() counts). */
  function charCount(s) {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const code = s.charCodeAt(i);
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < s.length) {
        const next = s.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          i++;
        }
      }
      n++;
    }
    return n;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';

  /** A small stroked icon built from path data (constant strings only). */
  function icon(className, paths) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('class', className);
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '24');
    svg.setAttribute('height', '24');
    svg.setAttribute('fill', 'none');
    svg.setAttribute('stroke', 'currentColor');
    svg.setAttribute('stroke-width', '2');
    svg.setAttribute('stroke-linecap', 'round');
    svg.setAttribute('stroke-linejoin', 'round');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    for (let i = 0; i < paths.length; i++) {
      const p = document.createElementNS(SVG_NS, 'path');
      p.setAttribute('d', paths[i]);
      svg.appendChild(p);
    }
    return svg;
  }

  const ICON_CHAT = ['M21 11.5a8.38 8.38 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.38 8.38 0 0 1-3.8-.9L3 21l1.9-5.7a8.38 8.38 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.38 8.38 0 0 1 3.8-.9h.5a8.48 8.48 0 0 1 8 8v.5z'];
  const ICON_CLOSE = ['M18 6 6 18', 'M6 6l12 12'];
  const ICON_DOWN = ['M6 9l6 6 6-6'];
  const ICON_SEND = ['M22 2 11 13', 'M22 2 15 22 11 13 2 9 22 2z'];

  function formatTime(ts) {
    const locale = [labelLanguage];
    let d = new Date(ts * 1000);
    if (isNaN(d.getTime())) {
      d = new Date();
    }
    const now = new Date();
    const time = d.toLocaleTimeString(locale, { hour: 'numeric', minute: '2-digit' });
    if (d.toDateString() === now.toDateString()) {
      return time;
    }
    const opts = { day: 'numeric', month: 'short' };
    if (d.getFullYear() !== now.getFullYear()) {
      opts.year = 'numeric';
    }
    return d.toLocaleDateString(locale, opts) + ', ' + time;
  }

  function timeEl(ts) {
    let d = new Date(ts * 1000);
    if (isNaN(d.getTime())) {
      d = new Date();
    }
    const node = el('time', { class: 'fd-time', datetime: d.toISOString(), title: d.toLocaleString([labelLanguage]), text: formatTime(ts) });
    node.setAttribute('data-ts', String(ts));
    return node;
  }

  function isHttpUrl(s) {
    if (typeof s !== 'string') {
      return false;
    }
    try {
      const u = new URL(s, window.location.href);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch (e) {
      return false;
    }
  }

  // ---------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------

  let ui = null;
  let isOpen = false;
  let unread = 0;
  const entryEls = Object.create(null); // entry id -> element
  const pending = Object.create(null); // client_id -> record
  const pendingOrder = []; // client_ids in send order
  let ws = null;
  let wsReady = false; // history received (or waited long enough)
  let attempt = 0;
  let retryTimer = null;
  let readyTimer = null;
  let typingTimer = null;
  let errorTimer = null;
  let connecting = false;
  let authFailures = 0;
  let hasConnected = false;
  let pingTimer = null;
  let pongTimer = null;
  // Who the customer is talking to, as the server last said (a "state" frame):
  // {state: assistant | queued | agent | closed, position, agent, team}.
  let conversation = { state: 'assistant' };
  let topics = null; // the greeting's suggested topics (a "topics" frame), or null

  // ---------------------------------------------------------------------
  // UI construction
  // ---------------------------------------------------------------------

  function buildUi() {
    const uid = 'fd-' + Math.random().toString(36).slice(2, 8);
    const root = el('div', { class: 'fd-root', 'data-frontdoor': '', lang: labelLanguage });
    root.hidden = true; // revealed once the stylesheet has loaded

    const launcher = el('button', {
      class: 'fd-launcher',
      type: 'button',
      testid: 'fd-launcher',
      'aria-controls': uid + '-panel',
      'aria-expanded': 'false'
    });
    launcher.appendChild(icon('fd-icon fd-icon--chat', ICON_CHAT));
    launcher.appendChild(icon('fd-icon fd-icon--down', ICON_DOWN));
    const badge = el('span', { class: 'fd-unread', 'aria-hidden': 'true' });
    badge.hidden = true;
    launcher.appendChild(badge);

    const panel = el('section', {
      class: 'fd-panel',
      id: uid + '-panel',
      testid: 'fd-panel',
      role: 'dialog',
      'aria-labelledby': uid + '-title'
    });
    panel.hidden = true;

    const header = el('header', { class: 'fd-header' });
    const headMain = el('div', { class: 'fd-header-main' });
    const avatar = label(el('span', { class: 'fd-avatar', 'aria-hidden': 'true' }), null, 'avatar');
    const titles = el('div', { class: 'fd-titles' });
    const title = label(el('h2', { class: 'fd-title', id: uid + '-title' }), null, 'title');
    const status = el('div', { class: 'fd-status', testid: 'fd-status', 'data-state': 'connecting', role: 'status' });
    const statusDot = el('span', { class: 'fd-status-dot', 'aria-hidden': 'true' });
    const statusText = label(el('span', { class: 'fd-status-text' }), null, 'status_connecting');
    status.appendChild(statusDot);
    status.appendChild(statusText);
    titles.appendChild(title);
    titles.appendChild(status);
    headMain.appendChild(avatar);
    headMain.appendChild(titles);
    const closeBtn = el('button', { class: 'fd-close', type: 'button' });
    label(closeBtn, 'aria-label', 'close_chat');
    label(closeBtn, 'title', 'close');
    closeBtn.appendChild(icon('fd-icon', ICON_CLOSE));
    // The customer's language (EN/DE): kept by the server on the customer, for
    // every channel; the server says which it is (history and language frames).
    const language = el('select', { class: 'fd-language', testid: 'fd-language' });
    label(language, 'aria-label', 'language');
    label(language, 'title', 'language');
    language.appendChild(el('option', { value: 'en', text: 'EN', title: 'English' }));
    language.appendChild(el('option', { value: 'de', text: 'DE', title: 'Deutsch' }));
    header.appendChild(headMain);
    header.appendChild(language);
    header.appendChild(closeBtn);

    const notice = el('div', { class: 'fd-notice', testid: 'fd-notice', role: 'status' });
    notice.hidden = true;
    const noticeText = el('p', { class: 'fd-notice-text' });
    const noticeClose = label(el('button', { class: 'fd-notice-close', type: 'button' }), 'aria-label', 'dismiss_notice');
    noticeClose.appendChild(icon('fd-icon', ICON_CLOSE));
    notice.appendChild(noticeText);
    notice.appendChild(noticeClose);

    const messages = el('div', {
      class: 'fd-messages',
      testid: 'fd-messages',
      role: 'log',
      'aria-live': 'polite',
      'aria-relevant': 'additions',
      tabindex: '0'
    });
    label(messages, 'aria-label', 'conversation');
    const typing = label(el('div', { class: 'fd-typing', testid: 'fd-typing', role: 'img' }), 'aria-label', 'typing');
    typing.hidden = true;
    for (let i = 0; i < 3; i++) {
      typing.appendChild(el('span', { class: 'fd-typing-dot', 'aria-hidden': 'true' }));
    }
    messages.appendChild(typing);

    const form = el('form', { class: 'fd-composer', novalidate: '' });
    const error = el('p', { class: 'fd-error', testid: 'fd-error', role: 'alert' });
    error.hidden = true;
    const row = el('div', { class: 'fd-input-row' });
    const inputLabel = label(el('label', { class: 'fd-sr-only', for: uid + '-input' }), null, 'your_message');
    const input = el('textarea', {
      class: 'fd-input',
      id: uid + '-input',
      testid: 'fd-input',
      rows: '1',
      autocomplete: 'off',
      'aria-describedby': uid + '-hint ' + uid + '-counter'
    });
    label(input, 'placeholder', 'placeholder');
    const send = el('button', { class: 'fd-send', type: 'submit', testid: 'fd-send' });
    label(send, 'aria-label', 'send_message');
    label(send, 'title', 'send');
    send.appendChild(icon('fd-icon', ICON_SEND));
    row.appendChild(inputLabel);
    row.appendChild(input);
    row.appendChild(send);
    const foot = el('div', { class: 'fd-composer-foot' });
    const hint = label(el('span', { class: 'fd-hint', id: uid + '-hint' }), null, 'hint');
    const counter = el('span', { class: 'fd-counter', id: uid + '-counter', 'aria-live': 'polite' });
    counter.hidden = true;
    foot.appendChild(hint);
    foot.appendChild(counter);
    form.appendChild(error);
    form.appendChild(row);
    form.appendChild(foot);

    panel.appendChild(header);
    panel.appendChild(notice);
    panel.appendChild(messages);
    panel.appendChild(form);
    root.appendChild(panel);
    root.appendChild(launcher);

    return {
      root: root,
      launcher: launcher,
      badge: badge,
      panel: panel,
      closeBtn: closeBtn,
      language: language,
      status: status,
      statusText: statusText,
      notice: notice,
      noticeText: noticeText,
      noticeClose: noticeClose,
      messages: messages,
      typing: typing,
      form: form,
      error: error,
      input: input,
      send: send,
      counter: counter
    };
  }

  function injectStylesheet(onDone) {
    const href = base + '/webchat/widget.css';
    let done = false;
    function finish() {
      if (!done) {
        done = true;
        onDone();
      }
    }
    const existing = document.querySelector('link[data-frontdoor-css]');
    if (existing) {
      finish();
      return;
    }
    const link = el('link', { rel: 'stylesheet', href: href, 'data-frontdoor-css': '' });
    link.addEventListener('load', finish);
    link.addEventListener('error', finish);
    (document.head || document.documentElement).appendChild(link);
    window.setTimeout(finish, 4000);
  }

  // ---------------------------------------------------------------------
  // Panel open / close, unread badge
  // ---------------------------------------------------------------------

  function setOpen(open, opts) {
    opts = opts || {};
    isOpen = !!open;
    ui.panel.hidden = !isOpen;
    ui.root.classList.toggle('fd-root--open', isOpen);
    ui.launcher.setAttribute('aria-expanded', isOpen ? 'true' : 'false');
    if (isOpen) {
      unread = 0;
      updateBadge();
      scrollToBottom(true);
      if (opts.focus) {
        ui.input.focus();
      }
    } else {
      updateBadge();
      if (opts.focus) {
        ui.launcher.focus();
      }
    }
  }

  function updateBadge() {
    ui.badge.hidden = isOpen || unread === 0;
    ui.badge.textContent = unread > 9 ? '9+' : String(unread);
    let text = t(isOpen ? 'close_chat' : 'open_chat');
    if (!isOpen && unread > 0) {
      text = t(unread === 1 ? 'unread_one' : 'unread_many', { count: unread });
    }
    ui.launcher.setAttribute('aria-label', text);
  }

  // ---------------------------------------------------------------------
  // Status, notice, typing, error line
  // ---------------------------------------------------------------------

  function setStatus(state) {
    // Connected: who the customer is talking to; otherwise the connection's state.
    const text = state === 'online' ? conversationText() : t('status_' + state);
    ui.status.setAttribute('data-state', state);
    ui.status.setAttribute('data-conversation', conversation.state);
    if (ui.statusText.textContent !== text) {
      ui.statusText.textContent = text;
    }
  }

  function conversationText() {
    const c = conversation;
    if (c.state === 'queued') {
      if (c.position === 1) {
        return t('status_queued_next');
      }
      return c.position ? t('status_queued', { position: c.position }) : t('status_waiting');
    }
    if (c.state === 'agent') {
      return t('status_agent', { agent: c.agent, team: c.team });
    }
    if (c.state === 'closed') {
      return t('status_closed');
    }
    return t('status_assistant');
  }

  /** A "state" frame: only known states and plain values are taken. */
  function setConversation(f) {
    const known = { assistant: 1, queued: 1, agent: 1, closed: 1 };
    const text = (v) => (typeof v === 'string' ? v.slice(0, 80) : '');
    conversation = {
      state: known[f.state] ? f.state : 'assistant',
      position: typeof f.position === 'number' && f.position > 0 ? Math.floor(f.position) : null,
      agent: text(f.agent),
      team: text(f.team)
    };
    setStatus(ui.status.getAttribute('data-state') || 'online');
  }

  function showNotice(level, text) {
    if (level === 'clear') {
      ui.notice.hidden = true;
      ui.noticeText.textContent = '';
      return;
    }
    ui.notice.setAttribute('data-level', level === 'warning' ? 'warning' : 'info');
    ui.notice.className = 'fd-notice fd-notice--' + (level === 'warning' ? 'warning' : 'info');
    ui.noticeText.textContent = typeof text === 'string' ? text : '';
    ui.notice.hidden = false;
  }

  function setTyping(on) {
    window.clearTimeout(typingTimer);
    const wasAtBottom = isNearBottom();
    ui.typing.hidden = !on;
    if (on) {
      typingTimer = window.setTimeout(() => {
        ui.typing.hidden = true;
      }, TYPING_TIMEOUT_MS);
      if (wasAtBottom) {
        scrollToBottom(true);
      }
    }
  }

  function setError(text, sticky) {
    window.clearTimeout(errorTimer);
    if (!text) {
      ui.error.hidden = true;
      ui.error.textContent = '';
      ui.error.removeAttribute('data-source');
      return;
    }
    ui.error.textContent = text;
    ui.error.hidden = false;
    if (!sticky) {
      errorTimer = window.setTimeout(() => {
        setError(null);
      }, ERROR_TIMEOUT_MS);
    }
  }

  // ---------------------------------------------------------------------
  // Scrolling
  // ---------------------------------------------------------------------

  function isNearBottom() {
    const m = ui.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function scrollToBottom(force) {
    if (force || isNearBottom()) {
      const m = ui.messages;
      m.scrollTop = m.scrollHeight;
    }
  }

  // ---------------------------------------------------------------------
  // Rendering entries
  // ---------------------------------------------------------------------

  function normAuthor(a) {
    return a === 'customer' || a === 'bot' || a === 'agent' || a === 'system' ? a : 'system';
  }

  function buildArticle(article) {
    if (!article || typeof article !== 'object') {
      return null;
    }
    const title = typeof article.title === 'string' ? article.title : '';
    // The article's public page (bot/channels/web/routes.py, /help/<id>), in the
    // language the customer was shown it.
    let url = typeof article.url === 'string' && isHttpUrl(article.url) ? article.url : null;
    if (!url && typeof article.id === 'string' && article.id) {
      url = base + '/help/' + encodeURIComponent(article.id) +
        (typeof article.language === 'string' ? '?lang=' + encodeURIComponent(article.language) : '');
    }
    let summary = '';
    const keys = ['summary', 'snippet', 'excerpt', 'description'];
    for (let i = 0; i < keys.length; i++) {
      if (typeof article[keys[i]] === 'string' && article[keys[i]]) {
        summary = article[keys[i]];
        break;
      }
    }
    if (!title && !url) {
      return null;
    }
    const card = el('div', { class: 'fd-article' });
    card.appendChild(label(el('span', { class: 'fd-article-kicker' }), null, 'help_article'));
    let titleNode;
    if (url) {
      titleNode = el('a', { class: 'fd-article-title', href: url, target: '_blank', rel: 'noopener noreferrer', testid: 'fd-article-link', text: title || url });
    } else {
      titleNode = el('span', { class: 'fd-article-title', text: title });
    }
    card.appendChild(titleNode);
    if (summary) {
      card.appendChild(el('p', { class: 'fd-article-summary', text: summary.length > 280 ? summary.slice(0, 277) + '\u2026' : summary }));
    }
    return card;
  }

  function buildButtons(buttons) {
    if (!Array.isArray(buttons) || !buttons.length) {
      return null;
    }
    const group = label(el('div', { class: 'fd-buttons', role: 'group' }), 'aria-label', 'suggested_replies');
    buttons.forEach((b) => {
      if (!b || typeof b.title !== 'string' || !b.title.trim()) {
        return;
      }
      const title = b.title;
      const payload = typeof b.payload === 'string' ? b.payload : title;
      const btn = el('button', { class: 'fd-button', type: 'button', testid: 'fd-button', text: title });
      btn.addEventListener('click', () => {
        if (btn.disabled) {
          return;
        }
        btn.classList.add('fd-button--chosen');
        submitOutgoing({ type: 'button', title: title, payload: payload }, title);
        // The chosen button is disabled now: keep the keyboard in the conversation.
        focusComposer();
      });
      group.appendChild(btn);
    });
    return group.firstChild ? group : null;
  }

  function buildMessage(author, opts) {
    const msg = el('div', { class: 'fd-msg fd-msg--' + author, testid: 'fd-msg', 'data-author': author });
    const who = el('span', { class: 'fd-sr-only' });
    who.appendChild(label(el('span', {}), null, 'author_' + author));
    who.appendChild(document.createTextNode(': '));
    msg.appendChild(who);
    if (author === 'agent') {
      msg.appendChild(label(el('span', { class: 'fd-msg-author', 'aria-hidden': 'true' }), null, 'author_agent'));
    }
    const bubble = el('div', { class: 'fd-bubble' });
    if (opts.html) {
      let body = el('div', { class: 'fd-html' });
      body.appendChild(sanitize(opts.html));
      if (!body.textContent.trim() && !body.querySelector('img')) {
        body = el('div', { class: 'fd-text', text: opts.text });
      }
      bubble.appendChild(body);
    } else {
      bubble.appendChild(el('div', { class: 'fd-text', text: opts.text }));
    }
    if (opts.article) {
      bubble.appendChild(opts.article);
    }
    msg.appendChild(bubble);
    if (opts.buttons) {
      msg.appendChild(opts.buttons);
    }
    const meta = el('div', { class: 'fd-meta' });
    if (opts.channel && opts.channel !== 'web') {
      const name = CHANNEL_NAMES[opts.channel] || String(opts.channel);
      meta.appendChild(label(el('span', { class: 'fd-badge', 'data-channel': opts.channel }), null, 'via', { channel: name }));
    }
    meta.appendChild(timeEl(opts.ts));
    msg.appendChild(meta);
    return msg;
  }

  function buildEntryEl(e) {
    const author = normAuthor(e.author);
    const text = typeof e.text === 'string' ? e.text : '';
    const html = (author === 'bot' || author === 'agent') && typeof e.html === 'string' && e.html.trim() ? e.html : null;
    const ts = typeof e.ts === 'number' && isFinite(e.ts) ? e.ts : Date.now() / 1000;
    const channel = typeof e.channel === 'string' ? e.channel : 'web';
    const msg = buildMessage(author, {
      text: text,
      html: html,
      ts: ts,
      channel: channel,
      article: author === 'system' ? null : buildArticle(e.article),
      // System messages carry buttons too: the rating after a person helped.
      buttons: buildButtons(e.buttons)
    });
    msg.setAttribute('data-entry-id', String(e.id));
    msg.setAttribute('data-ts', String(ts));
    msg.setAttribute('data-channel', channel);
    return msg;
  }

  // ---------------------------------------------------------------------
  // Greeting and suggested topics (a new conversation)
  // ---------------------------------------------------------------------

  function inLanguage(table) {
    if (!table || typeof table !== 'object') {
      return '';
    }
    const s = table[labelLanguage] || table.en || '';
    return typeof s === 'string' ? s : '';
  }

  /** The greeting at the top of an empty conversation, with its topics as
   * buttons; pressing one asks the topic's question as if typed. */
  function renderGreeting() {
    const old = ui.messages.querySelector('.fd-greeting');
    if (old) {
      old.parentNode.removeChild(old);
    }
    if (!Array.isArray(topics) || Object.keys(entryEls).length || pendingOrder.length) {
      return;
    }
    const msg = el('div', { class: 'fd-msg fd-msg--bot fd-greeting', testid: 'fd-greeting', 'data-ts': '0' });
    const bubble = el('div', { class: 'fd-bubble' });
    bubble.appendChild(label(el('div', { class: 'fd-text' }), null, 'greeting'));
    msg.appendChild(bubble);
    const group = label(el('div', { class: 'fd-buttons fd-topics', role: 'group' }), 'aria-label', 'suggested_topics');
    topics.slice(0, 4).forEach((topic) => {
      const title = inLanguage(topic && topic.title);
      const question = inLanguage(topic && topic.question);
      if (!title || !question) {
        return;
      }
      const btn = el('button', { class: 'fd-button fd-topic', type: 'button', testid: 'fd-topic', text: title });
      btn.addEventListener('click', () => {
        topics = null; // asked: the conversation has begun
        submitOutgoing({ type: 'message', text: question }, question);
        focusComposer();
      });
      group.appendChild(btn);
    });
    if (group.firstChild) {
      msg.appendChild(group);
    }
    ui.messages.insertBefore(msg, ui.messages.firstChild);
  }

  let lastPointer = ''; // how the last button was pressed: 'touch', 'mouse', or '' (keys)

  /** After a choice, the message box gets the focus (the chosen button is
   * disabled, which would drop it to the page) — but not after a tap on a
   * phone, where focusing it would pop the on-screen keyboard up. */
  function focusComposer() {
    if (lastPointer !== 'touch') {
      ui.input.focus();
    }
    lastPointer = '';
  }

  function retireTopics() {
    const group = ui.messages.querySelector('.fd-topics');
    if (group) {
      group.parentNode.removeChild(group);
    }
  }

  /** First element after the confirmed entries: a pending message or the typing row. */
  function tailAnchor() {
    const m = ui.messages;
    for (let n = m.firstElementChild; n; n = n.nextElementSibling) {
      if (n === ui.typing || n.getAttribute('data-pending') === 'true') {
        return n;
      }
    }
    return ui.typing;
  }

  /** Insert a confirmed entry in timestamp order, before pending messages. */
  function insertConfirmed(node, ts) {
    let ref = tailAnchor();
    let prev = ref.previousElementSibling;
    while (prev && Number(prev.getAttribute('data-ts')) > ts) {
      ref = prev;
      prev = prev.previousElementSibling;
    }
    ui.messages.insertBefore(node, ref);
  }

  /** Disable suggestion buttons of entries older than `ts` (all if ts is Infinity). */
  function retireButtons(ts) {
    const groups = ui.messages.querySelectorAll('.fd-buttons:not(.fd-buttons--spent)');
    for (let i = 0; i < groups.length; i++) {
      const msg = groups[i].parentNode;
      const mts = Number(msg.getAttribute('data-ts'));
      if (ts === Infinity || mts < ts) {
        groups[i].classList.add('fd-buttons--spent');
        const btns = groups[i].querySelectorAll('button');
        for (let j = 0; j < btns.length; j++) {
          btns[j].disabled = true;
        }
      }
    }
  }

  function removePending(clientId) {
    const rec = pending[clientId];
    if (!rec) {
      return null;
    }
    delete pending[clientId];
    const idx = pendingOrder.indexOf(clientId);
    if (idx >= 0) {
      pendingOrder.splice(idx, 1);
    }
    if (rec.el.parentNode) {
      rec.el.parentNode.removeChild(rec.el);
    }
    return rec;
  }

  /** Render one server entry. Returns true if something new was added. */
  function renderEntry(e, live) {
    if (!e || typeof e !== 'object' || e.id === undefined || e.id === null) {
      return false;
    }
    const id = String(e.id);
    const author = normAuthor(e.author);
    const clientId = typeof e.client_id === 'string' ? e.client_id : null;
    const replaced = clientId && author === 'customer' ? removePending(clientId) : null;
    if (entryEls[id]) {
      return false; // duplicate (reconnect replay or repeated frame)
    }
    const wasAtBottom = isNearBottom();
    const node = buildEntryEl(e);
    insertConfirmed(node, Number(node.getAttribute('data-ts')));
    entryEls[id] = node;
    if (author === 'customer') {
      retireButtons(Number(node.getAttribute('data-ts')));
    }
    if (author === 'bot' || author === 'agent') {
      setTyping(false);
    }
    if (live && !isOpen && author !== 'customer') {
      unread++;
      updateBadge();
    }
    scrollToBottom(wasAtBottom || !!replaced || author === 'customer');
    return true;
  }

  function renderHistory(entries) {
    if (!Array.isArray(entries)) {
      entries = [];
    }
    const seen = Object.create(null);
    const matched = Object.create(null);
    entries.forEach((e) => {
      if (e && e.id !== undefined && e.id !== null) {
        seen[String(e.id)] = true;
        if (typeof e.client_id === 'string') {
          matched[e.client_id] = true;
        }
      }
    });
    // The history is a full replay: drop entries the server no longer has
    // (e.g. a new session after the old one expired).
    Object.keys(entryEls).forEach((id) => {
      if (!seen[id]) {
        const n = entryEls[id];
        if (n.parentNode) {
          n.parentNode.removeChild(n);
        }
        delete entryEls[id];
      }
    });
    entries.forEach((e) => {
      renderEntry(e, false);
    });
    // A message the server acked is part of the replayed history even if
    // its entry does not carry the client_id: drop the pending copy.
    pendingOrder.slice().forEach((cid) => {
      const rec = pending[cid];
      if (rec && (rec.state === 'acked' || matched[cid])) {
        removePending(cid);
      }
    });
    scrollToBottom(true);
  }

  // ---------------------------------------------------------------------
  // Outgoing messages
  // ---------------------------------------------------------------------

  function setPendingState(rec, state) {
    rec.state = state;
    rec.el.setAttribute('data-state', state);
    rec.el.classList.toggle('fd-msg--failed', state === 'failed');
    rec.stateEl.textContent = t('state_' + state);
    if (rec.retryEl) {
      // A refused button (e.g. a stale option) is not worth retrying.
      rec.retryEl.hidden = state !== 'failed' || rec.frame.type !== 'message';
    }
  }

  function buildPendingEl(rec, displayText) {
    const msg = buildMessage('customer', { text: displayText, ts: Date.now() / 1000, channel: 'web' });
    msg.classList.add('fd-msg--pending');
    msg.setAttribute('data-pending', 'true');
    msg.setAttribute('data-client-id', rec.clientId);
    const meta = msg.querySelector('.fd-meta');
    const stateEl = el('span', { class: 'fd-state' });
    const retry = label(el('button', { class: 'fd-retry', type: 'button' }), null, 'retry');
    retry.hidden = true;
    retry.addEventListener('click', () => {
      removePending(rec.clientId);
      const frame = {};
      for (const k in rec.frame) {
        if (k !== 'client_id') {
          frame[k] = rec.frame[k];
        }
      }
      submitOutgoing(frame, displayText);
    });
    meta.appendChild(stateEl);
    meta.appendChild(retry);
    rec.stateEl = stateEl;
    rec.retryEl = retry;
    return msg;
  }

  /** Show a customer message as pending and send it (or queue it). */
  function submitOutgoing(frame, displayText) {
    const clientId = newClientId();
    frame.client_id = clientId;
    const rec = { clientId: clientId, frame: frame, state: 'queued', el: null, stateEl: null, retryEl: null };
    rec.el = buildPendingEl(rec, displayText);
    retireButtons(Infinity);
    retireTopics();
    pending[clientId] = rec;
    pendingOrder.push(clientId);
    ui.messages.insertBefore(rec.el, ui.typing);
    setPendingState(rec, 'queued');
    setError(null);
    trySend(rec);
    scrollToBottom(true);
  }

  function trySend(rec) {
    if (ws && wsReady && ws.readyState === 1) {
      try {
        ws.send(JSON.stringify(rec.frame));
        setPendingState(rec, 'sent');
        return true;
      } catch (e) {
        /* stays queued; flushed on reconnect */
      }
    }
    setPendingState(rec, 'queued');
    return false;
  }

  function flushOutbox() {
    pendingOrder.slice().forEach((cid) => {
      const rec = pending[cid];
      // Un-acked messages are re-sent with the same client_id, so the
      // server can recognise a message it already has.
      if (rec && (rec.state === 'queued' || rec.state === 'sent')) {
        trySend(rec);
      }
    });
  }

  function markFailed(clientId) {
    const rec = pending[clientId];
    if (rec) {
      setPendingState(rec, 'failed');
    }
  }

  function onSubmit(ev) {
    if (ev) {
      ev.preventDefault();
    }
    const text = ui.input.value.trim();
    if (!text) {
      ui.input.value = '';
      updateComposer();
      return;
    }
    if (charCount(text) > MAX_LEN) {
      setError(t('too_long', { max: MAX_LEN }), true);
      ui.input.focus();
      return;
    }
    ui.input.value = '';
    updateComposer();
    submitOutgoing({ type: 'message', text: text }, text);
    ui.input.focus();
  }

  let tooLongShown = false;

  function updateComposer() {
    const input = ui.input;
    // Grow with the content up to the CSS max-height (CSSOM, CSP-safe).
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 160) + 'px';
    const n = charCount(input.value.trim());
    const over = n > MAX_LEN;
    ui.counter.hidden = n < COUNTER_FROM;
    ui.counter.textContent = n + ' / ' + MAX_LEN;
    ui.counter.classList.toggle('fd-counter--over', over);
    ui.send.classList.toggle('fd-send--idle', n === 0 || over);
    ui.send.setAttribute('aria-disabled', n === 0 || over ? 'true' : 'false');
    input.setAttribute('aria-invalid', over ? 'true' : 'false');
    if (over) {
      setError(t('too_long_count', { count: n, max: MAX_LEN }), true);
      tooLongShown = true;
    } else if (tooLongShown) {
      tooLongShown = false;
      setError(null);
    }
  }

  // ---------------------------------------------------------------------
  // Connection
  // ---------------------------------------------------------------------

  function createSession() {
    return window
      .fetch(base + '/webchat/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: loadToken() || null }),
        credentials: 'omit',
        cache: 'no-store'
      })
      .then((res) => {
        if (!res.ok) {
          throw new Error('session ' + res.status);
        }
        return res.json();
      })
      .then((data) => {
        if (!data || typeof data.token !== 'string' || !data.token) {
          throw new Error('session: no token');
        }
        saveToken(data.token);
        setLanguage(data.language);
        return data.token;
      });
  }

  function connect() {
    window.clearTimeout(retryTimer);
    retryTimer = null;
    if (connecting || ws) {
      return;
    }
    connecting = true;
    createSession().then(
      (token) => {
        connecting = false;
        openSocket(token);
      },
      () => {
        connecting = false;
        scheduleReconnect();
      }
    );
  }

  function scheduleReconnect() {
    setStatus('reconnecting');
    if (retryTimer) {
      return;
    }
    const delay = Math.min(BACKOFF_BASE_MS * Math.pow(2, attempt), BACKOFF_MAX_MS);
    attempt++;
    retryTimer = window.setTimeout(() => {
      retryTimer = null;
      connect();
    }, delay);
  }

  function markReady() {
    window.clearTimeout(readyTimer);
    if (!wsReady) {
      wsReady = true;
      flushOutbox();
    }
  }

  function stopHeartbeat() {
    window.clearInterval(pingTimer);
    window.clearTimeout(pongTimer);
    pingTimer = null;
    pongTimer = null;
  }

  function startHeartbeat(sock) {
    stopHeartbeat();
    pingTimer = window.setInterval(() => {
      if (sock !== ws || sock.readyState !== 1) {
        return;
      }
      try {
        sock.send(JSON.stringify({ type: 'ping' }));
      } catch (e) {
        return;
      }
      window.clearTimeout(pongTimer);
      pongTimer = window.setTimeout(() => {
        if (sock === ws) {
          dropSocket(sock); // silent for too long: treat as lost
        }
      }, PONG_WAIT_MS);
    }, PING_EVERY_MS);
  }

  /** The socket is gone (closed by the server, the network, or judged dead). */
  function dropSocket(sock, code) {
    if (sock !== ws) {
      return;
    }
    ws = null;
    wsReady = false;
    stopHeartbeat();
    window.clearTimeout(readyTimer);
    setTyping(false);
    try {
      sock.close();
    } catch (e) {
      /* already closing */
    }
    pendingOrder.forEach((cid) => {
      const rec = pending[cid];
      if (rec && rec.state === 'sent') {
        setPendingState(rec, 'queued'); // re-sent with the same client_id
      }
    });
    if (code === 4401) {
      // Unknown or expired session: start a new one right away (but do
      // not spin if the server keeps refusing).
      saveToken(null);
      authFailures++;
      if (authFailures <= 2) {
        setStatus(hasConnected ? 'reconnecting' : 'connecting');
        connect();
        return;
      }
    }
    scheduleReconnect();
  }

  function openSocket(token) {
    let sock;
    try {
      sock = new WebSocket(wsBase + '/webchat/ws?token=' + encodeURIComponent(token));
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    wsReady = false;

    sock.addEventListener('open', () => {
      if (sock !== ws) {
        return;
      }
      hasConnected = true;
      setStatus('online');
      startHeartbeat(sock);
      // The server replays the history right after connecting; the outbox
      // is flushed after it (so already-delivered messages are recognised),
      // or after a short wait if it never comes.
      readyTimer = window.setTimeout(markReady, HISTORY_WAIT_MS);
    });

    sock.addEventListener('message', (ev) => {
      if (sock !== ws) {
        return;
      }
      window.clearTimeout(pongTimer); // any frame proves the socket alive
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (frame && typeof frame === 'object') {
        handleFrame(frame);
      }
    });

    sock.addEventListener('close', (ev) => {
      dropSocket(sock, ev.code);
    });
  }

  let wantedLanguage = null; // picked while offline: sent once the history is back

  function showLanguage(code) {
    if (wantedLanguage !== null) {
      sendLanguage(); // the customer's newer pick wins over what the server had
    } else if (code === 'en' || code === 'de') {
      ui.language.value = code;
    }
  }

  /** The customer picked a language: sent now, or once connected again. */
  function chooseLanguage() {
    wantedLanguage = ui.language.value;
    sendLanguage();
  }

  function sendLanguage() {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: 'language', language: wantedLanguage }));
      wantedLanguage = null;
    }
  }

  /** Who the customer is talking to, asked again after every (re)connect. */
  function askState() {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: 'state' }));
    }
  }

  function handleFrame(f) {
    if (f.type === 'history' || f.type === 'language') {
      setLanguage(f.language); // the customer's language: the labels follow it
    }
    switch (f.type) {
      case 'history':
        attempt = 0;
        authFailures = 0;
        renderHistory(f.entries);
        if (Array.isArray(f.entries) && f.entries.length) {
          retireTopics(); // a conversation that has begun needs no topics
        }
        showLanguage(f.language);
        markReady();
        askState();
        break;
      case 'state':
        setConversation(f);
        break;
      case 'topics':
        topics = Array.isArray(f.topics) ? f.topics : [];
        renderGreeting();
        break;
      case 'language':
        showLanguage(f.language);
        break;
      case 'entry':
        renderEntry(f.entry, true);
        break;
      case 'ack':
        if (typeof f.client_id === 'string' && pending[f.client_id] && pending[f.client_id].state !== 'failed') {
          setPendingState(pending[f.client_id], 'acked');
        }
        break;
      case 'typing':
        setTyping(f.on === true);
        break;
      case 'notice':
        showNotice(f.level, f.text);
        break;
      case 'error':
        setError(typeof f.text === 'string' && f.text ? f.text : t('error'));
        if (typeof f.client_id === 'string') {
          markFailed(f.client_id);
        }
        break;
      default:
        break; // "pong" and unknown frame types are ignored
    }
  }

  // ---------------------------------------------------------------------
  // Wiring
  // ---------------------------------------------------------------------

  function init() {
    if (!document.body) {
      return;
    }
    ui = buildUi();
    document.body.appendChild(ui.root);

    ui.launcher.addEventListener('click', () => {
      setOpen(!isOpen, { focus: true });
    });
    ui.closeBtn.addEventListener('click', () => {
      setOpen(false, { focus: true });
    });
    ui.language.addEventListener('change', chooseLanguage);
    ui.noticeClose.addEventListener('click', () => {
      showNotice('clear');
    });
    ui.panel.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        setOpen(false, { focus: true });
      }
    });
    ui.root.addEventListener('pointerdown', (ev) => {
      lastPointer = ev.pointerType || '';
    }, true);
    ui.form.addEventListener('submit', onSubmit);
    ui.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        onSubmit(null);
      }
    });
    ui.input.addEventListener('input', updateComposer);

    window.addEventListener('online', () => {
      if (!ws && !connecting) {
        attempt = 0;
        connect();
      }
    });

    updateComposer();
    setOpen(startOpen, { focus: false });
    injectStylesheet(() => {
      ui.root.hidden = false;
      updateComposer();
      scrollToBottom(true);
    });
    connect();
  }

  window.FrontDoor = {
    __frontdoor: true,
    open() {
      if (ui) {
        setOpen(true, { focus: true });
      }
    },
    close() {
      if (ui) {
        setOpen(false, { focus: false });
      }
    },
    // The widget's language ("en", "de"): its labels switch at once.
    setLanguage(code) {
      setLanguage(code);
    },
    language() {
      return labelLanguage;
    },
    // sanitize(html) -> DocumentFragment: the shared allow-list the widget renders with.
    sanitize
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
