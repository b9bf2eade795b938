/*!
 * Front Door web chat widget.
 *
 * Embed with a single tag:
 *   <script src="https://frontdoor.example/webchat/widget.js"
 *           data-frontdoor-url="https://frontdoor.example"
 *           data-open="true" defer></script>
 *
 * Plain JavaScript, no dependencies, no build step. Every value that comes
 * from the server or the customer is rendered with textContent; the only
 * thing ever parsed as HTML is the server-sanitised `html` of bot/agent
 * entries, which is additionally filtered through an allow-list here.
 */
(function () {
  'use strict';

  if (window.FrontDoor && window.FrontDoor.__frontdoor) {
    return; // already embedded on this page
  }

  // ---------------------------------------------------------------------
  // Configuration
  // ---------------------------------------------------------------------

  var TOKEN_KEY = 'frontdoor.token';
  var MAX_LEN = 2000;
  var COUNTER_FROM = 1800;
  var BACKOFF_BASE_MS = 1000;
  var BACKOFF_MAX_MS = 15000;
  var HISTORY_WAIT_MS = 2000; // flush the outbox anyway if no history arrives
  var TYPING_TIMEOUT_MS = 45000; // safety net if "typing off" is never sent
  var ERROR_TIMEOUT_MS = 12000;
  var PING_EVERY_MS = 25000; // keeps idle proxies from dropping the socket
  var PONG_WAIT_MS = 10000; // no frame at all by then: the socket is dead
  var TITLE = 'Brightside \u2014 Chat with us';
  var CHANNEL_NAMES = { telegram: 'Telegram', slack: 'Slack', sms: 'SMS' };
  var AUTHOR_LABELS = {
    customer: 'You',
    bot: 'Brightside assistant',
    agent: 'Support agent',
    system: 'Notice'
  };

  var script = findOwnScript();
  var base = resolveBase(script);
  var wsBase = toWsBase(base);
  var startOpen = !!script && /^(true|1|yes|open)$/i.test(script.getAttribute('data-open') || '');

  // ---------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------

  function findOwnScript() {
    var s = document.currentScript;
    if (s && s.tagName === 'SCRIPT') {
      return s;
    }
    var all = document.getElementsByTagName('script');
    for (var i = all.length - 1; i >= 0; i--) {
      var src = all[i].getAttribute('src') || '';
      if (/widget\.js$/.test(src.split(/[?#]/)[0])) {
        return all[i];
      }
    }
    return null;
  }

  function resolveBase(s) {
    var raw = s ? (s.getAttribute('data-frontdoor-url') || '').trim() : '';
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
    var u = new URL(httpBase);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href.replace(/\/+$/, '');
  }

  var memoryToken = null;

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
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') {
      try {
        return c.randomUUID();
      } catch (e) {
        /* not a secure context */
      }
    }
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = '';
    for (var j = 0; j < 16; j++) {
      hex += (bytes[j] + 0x100).toString(16).slice(1);
      if (j === 3 || j === 5 || j === 7 || j === 9) {
        hex += '-';
      }
    }
    return hex;
  }

  /** Length in Unicode code points (what the server's len() counts). */
  function charCount(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var code = s.charCodeAt(i);
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < s.length) {
        var next = s.charCodeAt(i + 1);
        if (next >= 0xdc00 && next <= 0xdfff) {
          i++;
        }
      }
      n++;
    }
    return n;
  }

  /** Create an element. Attributes are set one by one, text via textContent. */
  function h(tag, className, attrs, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (attrs) {
      for (var k in attrs) {
        if (Object.prototype.hasOwnProperty.call(attrs, k) && attrs[k] !== null && attrs[k] !== undefined) {
          node.setAttribute(k, String(attrs[k]));
        }
      }
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  var SVG_NS = 'http://www.w3.org/2000/svg';

  /** A small stroked icon built from path data (constant strings only). */
  function icon(className, paths) {
    var svg = document.createElementNS(SVG_NS, 'svg');
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
    for (var i = 0; i < paths.length; i++) {
      var p = document.createElementNS(SVG_NS, 'path');
      p.setAttribute('d', paths[i]);
      svg.appendChild(p);
    }
    return svg;
  }

  var ICON_CHAT = ['M21 11.5a8.38 8.38 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.38 8.38 0 0 1-3.8-.9L3 21l1.9-5.7a8.38 8.38 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.38 8.38 0 0 1 3.8-.9h.5a8.48 8.48 0 0 1 8 8v.5z'];
  var ICON_CLOSE = ['M18 6 6 18', 'M6 6l12 12'];
  var ICON_DOWN = ['M6 9l6 6 6-6'];
  var ICON_SEND = ['M22 2 11 13', 'M22 2 15 22 11 13 2 9 22 2z'];

  function formatTime(ts) {
    var d = new Date(ts * 1000);
    if (isNaN(d.getTime())) {
      d = new Date();
    }
    var now = new Date();
    var time = d.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
    if (d.toDateString() === now.toDateString()) {
      return time;
    }
    var opts = { day: 'numeric', month: 'short' };
    if (d.getFullYear() !== now.getFullYear()) {
      opts.year = 'numeric';
    }
    return d.toLocaleDateString([], opts) + ', ' + time;
  }

  function timeEl(ts) {
    var d = new Date(ts * 1000);
    if (isNaN(d.getTime())) {
      d = new Date();
    }
    return h('time', 'fd-time', { datetime: d.toISOString(), title: d.toLocaleString() }, formatTime(ts));
  }

  function isHttpUrl(s) {
    if (typeof s !== 'string') {
      return false;
    }
    try {
      var u = new URL(s, window.location.href);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch (e) {
      return false;
    }
  }

  // ---------------------------------------------------------------------
  // HTML allow-list filter (defence in depth on top of the server's
  // sanitiser). Parsed in an inert <template>, so nothing loads or runs.
  // ---------------------------------------------------------------------

  var DROP_TAGS = {
    script: 1, style: 1, iframe: 1, frame: 1, frameset: 1, object: 1, embed: 1, applet: 1,
    link: 1, meta: 1, base: 1, form: 1, input: 1, button: 1, textarea: 1, select: 1,
    option: 1, svg: 1, math: 1, noscript: 1, template: 1, audio: 1, video: 1, source: 1,
    track: 1, canvas: 1, title: 1, head: 1, dialog: 1, portal: 1
  };
  var ALLOWED_ATTRS = {
    a: { href: 1, title: 1 },
    img: { src: 1, alt: 1, title: 1, width: 1, height: 1 },
    p: {}, br: {}, hr: {}, strong: {}, b: {}, em: {}, i: {}, u: {}, s: {}, del: {}, ins: {},
    mark: {}, small: {}, sub: {}, sup: {}, code: {}, pre: {}, kbd: {}, blockquote: {},
    ul: {}, ol: { start: 1 }, li: {}, h1: {}, h2: {}, h3: {}, h4: {}, h5: {}, h6: {},
    span: {}, div: {}, table: {}, thead: {}, tbody: {}, tfoot: {}, tr: {},
    th: { colspan: 1, rowspan: 1, scope: 1 }, td: { colspan: 1, rowspan: 1 },
    dl: {}, dt: {}, dd: {}, abbr: { title: 1 }
  };

  function safeHref(raw) {
    var v = (raw || '').replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
    if (!v) {
      return null;
    }
    var m = /^([a-z][a-z0-9+.\-]*):/i.exec(v);
    if (m) {
      var scheme = m[1].toLowerCase();
      return scheme === 'http' || scheme === 'https' || scheme === 'mailto' || scheme === 'tel' ? raw.trim() : null;
    }
    return raw.trim(); // relative link or fragment
  }

  function cleanTree(parent) {
    var child = parent.firstChild;
    while (child) {
      var next = child.nextSibling;
      if (child.nodeType === 1) {
        var tag = child.nodeName.toLowerCase();
        if (DROP_TAGS[tag]) {
          parent.removeChild(child);
        } else if (!ALLOWED_ATTRS[tag]) {
          // Unknown element: keep its (cleaned) content, drop the element.
          cleanTree(child);
          while (child.firstChild) {
            parent.insertBefore(child.firstChild, child);
          }
          next = child.nextSibling;
          parent.removeChild(child);
        } else {
          var allowed = ALLOWED_ATTRS[tag];
          for (var i = child.attributes.length - 1; i >= 0; i--) {
            var name = child.attributes[i].name.toLowerCase();
            if (!allowed[name]) {
              child.removeAttribute(child.attributes[i].name);
            }
          }
          if (tag === 'a') {
            var href = safeHref(child.getAttribute('href'));
            if (href === null) {
              child.removeAttribute('href');
            } else {
              child.setAttribute('href', href);
              child.setAttribute('target', '_blank');
              child.setAttribute('rel', 'noopener noreferrer');
            }
          } else if (tag === 'img') {
            var src = child.getAttribute('src');
            if (!src || !/^https?:/i.test(src.trim())) {
              parent.removeChild(child);
              child = next;
              continue;
            }
            child.setAttribute('loading', 'lazy');
            child.setAttribute('referrerpolicy', 'no-referrer');
          }
          cleanTree(child);
        }
      } else if (child.nodeType !== 3) {
        parent.removeChild(child); // comments, processing instructions
      }
      child = next;
    }
  }

  /**
   * Parse server-sanitised HTML into a cleaned fragment of this document.
   * A <template> is inert: nothing in it loads or runs while it is filtered.
   * (Should the server ever let an inline handler through, Chromium reports
   * the attribute as a CSP violation at parse time; it never runs.)
   */
  function htmlFragment(html) {
    var tpl = document.createElement('template');
    tpl.innerHTML = html;
    cleanTree(tpl.content);
    return document.importNode(tpl.content, true);
  }

  // ---------------------------------------------------------------------
  // State
  // ---------------------------------------------------------------------

  var ui = null;
  var isOpen = false;
  var unread = 0;
  var entryEls = Object.create(null); // entry id -> element
  var pending = Object.create(null); // client_id -> record
  var pendingOrder = []; // client_ids in send order
  var ws = null;
  var wsReady = false; // history received (or waited long enough)
  var attempt = 0;
  var retryTimer = null;
  var readyTimer = null;
  var typingTimer = null;
  var errorTimer = null;
  var connecting = false;
  var authFailures = 0;
  var hasConnected = false;
  var pingTimer = null;
  var pongTimer = null;

  // ---------------------------------------------------------------------
  // UI construction
  // ---------------------------------------------------------------------

  function buildUi() {
    var uid = 'fd-' + Math.random().toString(36).slice(2, 8);
    var root = h('div', 'fd-root', { 'data-frontdoor': '' });
    root.hidden = true; // revealed once the stylesheet has loaded

    var launcher = h('button', 'fd-launcher', {
      type: 'button',
      'data-testid': 'fd-launcher',
      'aria-controls': uid + '-panel',
      'aria-expanded': 'false',
      'aria-label': 'Open chat'
    });
    launcher.appendChild(icon('fd-icon fd-icon--chat', ICON_CHAT));
    launcher.appendChild(icon('fd-icon fd-icon--down', ICON_DOWN));
    var badge = h('span', 'fd-unread', { 'aria-hidden': 'true' });
    badge.hidden = true;
    launcher.appendChild(badge);

    var panel = h('section', 'fd-panel', {
      id: uid + '-panel',
      'data-testid': 'fd-panel',
      role: 'dialog',
      'aria-labelledby': uid + '-title'
    });
    panel.hidden = true;

    var header = h('header', 'fd-header');
    var headMain = h('div', 'fd-header-main');
    var avatar = h('span', 'fd-avatar', { 'aria-hidden': 'true' }, 'B');
    var titles = h('div', 'fd-titles');
    var title = h('h2', 'fd-title', { id: uid + '-title' }, TITLE);
    var status = h('div', 'fd-status', { 'data-testid': 'fd-status', 'data-state': 'connecting', role: 'status' });
    var statusDot = h('span', 'fd-status-dot', { 'aria-hidden': 'true' });
    var statusText = h('span', 'fd-status-text', null, 'Connecting\u2026');
    status.appendChild(statusDot);
    status.appendChild(statusText);
    titles.appendChild(title);
    titles.appendChild(status);
    headMain.appendChild(avatar);
    headMain.appendChild(titles);
    var closeBtn = h('button', 'fd-close', { type: 'button', 'aria-label': 'Close chat', title: 'Close' });
    closeBtn.appendChild(icon('fd-icon', ICON_CLOSE));
    header.appendChild(headMain);
    header.appendChild(closeBtn);

    var notice = h('div', 'fd-notice', { 'data-testid': 'fd-notice', role: 'status' });
    notice.hidden = true;
    var noticeText = h('p', 'fd-notice-text');
    var noticeClose = h('button', 'fd-notice-close', { type: 'button', 'aria-label': 'Dismiss notice' });
    noticeClose.appendChild(icon('fd-icon', ICON_CLOSE));
    notice.appendChild(noticeText);
    notice.appendChild(noticeClose);

    var messages = h('div', 'fd-messages', {
      'data-testid': 'fd-messages',
      role: 'log',
      'aria-live': 'polite',
      'aria-relevant': 'additions',
      'aria-label': 'Conversation',
      tabindex: '0'
    });
    var typing = h('div', 'fd-typing', { 'data-testid': 'fd-typing', 'aria-label': 'Brightside is typing', role: 'img' });
    typing.hidden = true;
    for (var i = 0; i < 3; i++) {
      typing.appendChild(h('span', 'fd-typing-dot', { 'aria-hidden': 'true' }));
    }
    messages.appendChild(typing);

    var form = h('form', 'fd-composer', { novalidate: '' });
    var error = h('p', 'fd-error', { 'data-testid': 'fd-error', role: 'alert' });
    error.hidden = true;
    var row = h('div', 'fd-input-row');
    var label = h('label', 'fd-sr-only', { for: uid + '-input' }, 'Your message');
    var input = h('textarea', 'fd-input', {
      id: uid + '-input',
      'data-testid': 'fd-input',
      rows: '1',
      placeholder: 'Type your message\u2026',
      autocomplete: 'off',
      'aria-describedby': uid + '-hint ' + uid + '-counter'
    });
    var send = h('button', 'fd-send', { type: 'submit', 'data-testid': 'fd-send', 'aria-label': 'Send message', title: 'Send' });
    send.appendChild(icon('fd-icon', ICON_SEND));
    row.appendChild(label);
    row.appendChild(input);
    row.appendChild(send);
    var foot = h('div', 'fd-composer-foot');
    var hint = h('span', 'fd-hint', { id: uid + '-hint' }, 'Enter to send \u00b7 Shift+Enter for a new line');
    var counter = h('span', 'fd-counter', { id: uid + '-counter', 'aria-live': 'polite' });
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
    var href = base + '/webchat/widget.css';
    var done = false;
    function finish() {
      if (!done) {
        done = true;
        onDone();
      }
    }
    var existing = document.querySelector('link[data-frontdoor-css]');
    if (existing) {
      finish();
      return;
    }
    var link = h('link', null, { rel: 'stylesheet', href: href, 'data-frontdoor-css': '' });
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
    var label = isOpen ? 'Close chat' : 'Open chat';
    if (!isOpen && unread > 0) {
      label += ' (' + unread + (unread === 1 ? ' new message)' : ' new messages)');
    }
    ui.launcher.setAttribute('aria-label', label);
  }

  // ---------------------------------------------------------------------
  // Status, notice, typing, error line
  // ---------------------------------------------------------------------

  function setStatus(state) {
    var text = { online: 'Online', connecting: 'Connecting\u2026', reconnecting: 'Reconnecting\u2026' }[state];
    ui.status.setAttribute('data-state', state);
    if (ui.statusText.textContent !== text) {
      ui.statusText.textContent = text;
    }
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
    var wasAtBottom = isNearBottom();
    ui.typing.hidden = !on;
    if (on) {
      typingTimer = window.setTimeout(function () {
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
      errorTimer = window.setTimeout(function () {
        setError(null);
      }, ERROR_TIMEOUT_MS);
    }
  }

  // ---------------------------------------------------------------------
  // Scrolling
  // ---------------------------------------------------------------------

  function isNearBottom() {
    var m = ui.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function scrollToBottom(force) {
    if (force || isNearBottom()) {
      var m = ui.messages;
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
    var title = typeof article.title === 'string' ? article.title : '';
    var url = typeof article.url === 'string' && isHttpUrl(article.url) ? article.url : null;
    var summary = '';
    var keys = ['summary', 'snippet', 'excerpt', 'description'];
    for (var i = 0; i < keys.length; i++) {
      if (typeof article[keys[i]] === 'string' && article[keys[i]]) {
        summary = article[keys[i]];
        break;
      }
    }
    if (!title && !url) {
      return null;
    }
    var card = h('div', 'fd-article');
    card.appendChild(h('span', 'fd-article-kicker', null, 'Help article'));
    var titleNode;
    if (url) {
      titleNode = h('a', 'fd-article-title', { href: url, target: '_blank', rel: 'noopener noreferrer' }, title || url);
    } else {
      titleNode = h('span', 'fd-article-title', null, title);
    }
    card.appendChild(titleNode);
    if (summary) {
      card.appendChild(h('p', 'fd-article-summary', null, summary.length > 280 ? summary.slice(0, 277) + '\u2026' : summary));
    }
    return card;
  }

  function buildButtons(buttons) {
    if (!Array.isArray(buttons) || !buttons.length) {
      return null;
    }
    var group = h('div', 'fd-buttons', { role: 'group', 'aria-label': 'Suggested replies' });
    buttons.forEach(function (b) {
      if (!b || typeof b.title !== 'string' || !b.title.trim()) {
        return;
      }
      var title = b.title;
      var payload = typeof b.payload === 'string' ? b.payload : title;
      var btn = h('button', 'fd-button', { type: 'button', 'data-testid': 'fd-button' }, title);
      btn.addEventListener('click', function () {
        if (btn.disabled) {
          return;
        }
        btn.classList.add('fd-button--chosen');
        submitOutgoing({ type: 'button', title: title, payload: payload }, title);
      });
      group.appendChild(btn);
    });
    return group.firstChild ? group : null;
  }

  function buildMessage(author, opts) {
    var msg = h('div', 'fd-msg fd-msg--' + author, { 'data-testid': 'fd-msg', 'data-author': author });
    msg.appendChild(h('span', 'fd-sr-only', null, AUTHOR_LABELS[author] + ': '));
    if (author === 'agent') {
      msg.appendChild(h('span', 'fd-msg-author', { 'aria-hidden': 'true' }, AUTHOR_LABELS.agent));
    }
    var bubble = h('div', 'fd-bubble');
    if (opts.html) {
      var body = h('div', 'fd-html');
      body.appendChild(htmlFragment(opts.html));
      if (!body.textContent.trim() && !body.querySelector('img')) {
        body = h('div', 'fd-text', null, opts.text);
      }
      bubble.appendChild(body);
    } else {
      bubble.appendChild(h('div', 'fd-text', null, opts.text));
    }
    if (opts.article) {
      bubble.appendChild(opts.article);
    }
    msg.appendChild(bubble);
    if (opts.buttons) {
      msg.appendChild(opts.buttons);
    }
    var meta = h('div', 'fd-meta');
    if (opts.channel && opts.channel !== 'web') {
      var name = CHANNEL_NAMES[opts.channel] || String(opts.channel);
      meta.appendChild(h('span', 'fd-badge', { 'data-channel': opts.channel }, 'via ' + name));
    }
    meta.appendChild(timeEl(opts.ts));
    msg.appendChild(meta);
    return msg;
  }

  function buildEntryEl(e) {
    var author = normAuthor(e.author);
    var text = typeof e.text === 'string' ? e.text : '';
    var html = (author === 'bot' || author === 'agent') && typeof e.html === 'string' && e.html.trim() ? e.html : null;
    var ts = typeof e.ts === 'number' && isFinite(e.ts) ? e.ts : Date.now() / 1000;
    var channel = typeof e.channel === 'string' ? e.channel : 'web';
    var msg = buildMessage(author, {
      text: text,
      html: html,
      ts: ts,
      channel: channel,
      article: author === 'system' ? null : buildArticle(e.article),
      buttons: author === 'system' ? null : buildButtons(e.buttons)
    });
    msg.setAttribute('data-entry-id', String(e.id));
    msg.setAttribute('data-ts', String(ts));
    msg.setAttribute('data-channel', channel);
    return msg;
  }

  /** First element after the confirmed entries: a pending message or the typing row. */
  function tailAnchor() {
    var m = ui.messages;
    for (var n = m.firstElementChild; n; n = n.nextElementSibling) {
      if (n === ui.typing || n.getAttribute('data-pending') === 'true') {
        return n;
      }
    }
    return ui.typing;
  }

  /** Insert a confirmed entry in timestamp order, before pending messages. */
  function insertConfirmed(node, ts) {
    var ref = tailAnchor();
    var prev = ref.previousElementSibling;
    while (prev && Number(prev.getAttribute('data-ts')) > ts) {
      ref = prev;
      prev = prev.previousElementSibling;
    }
    ui.messages.insertBefore(node, ref);
  }

  /** Disable suggestion buttons of entries older than `ts` (all if ts is Infinity). */
  function retireButtons(ts) {
    var groups = ui.messages.querySelectorAll('.fd-buttons:not(.fd-buttons--spent)');
    for (var i = 0; i < groups.length; i++) {
      var msg = groups[i].parentNode;
      var mts = Number(msg.getAttribute('data-ts'));
      if (ts === Infinity || mts < ts) {
        groups[i].classList.add('fd-buttons--spent');
        var btns = groups[i].querySelectorAll('button');
        for (var j = 0; j < btns.length; j++) {
          btns[j].disabled = true;
        }
      }
    }
  }

  function removePending(clientId) {
    var rec = pending[clientId];
    if (!rec) {
      return null;
    }
    delete pending[clientId];
    var idx = pendingOrder.indexOf(clientId);
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
    var id = String(e.id);
    var author = normAuthor(e.author);
    var clientId = typeof e.client_id === 'string' ? e.client_id : null;
    var replaced = clientId && author === 'customer' ? removePending(clientId) : null;
    if (entryEls[id]) {
      return false; // duplicate (reconnect replay or repeated frame)
    }
    var wasAtBottom = isNearBottom();
    var node = buildEntryEl(e);
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
    var seen = Object.create(null);
    var matched = Object.create(null);
    entries.forEach(function (e) {
      if (e && e.id !== undefined && e.id !== null) {
        seen[String(e.id)] = true;
        if (typeof e.client_id === 'string') {
          matched[e.client_id] = true;
        }
      }
    });
    // The history is a full replay: drop entries the server no longer has
    // (e.g. a new session after the old one expired).
    Object.keys(entryEls).forEach(function (id) {
      if (!seen[id]) {
        var n = entryEls[id];
        if (n.parentNode) {
          n.parentNode.removeChild(n);
        }
        delete entryEls[id];
      }
    });
    entries.forEach(function (e) {
      renderEntry(e, false);
    });
    // A message the server acked is part of the replayed history even if
    // its entry does not carry the client_id: drop the pending copy.
    pendingOrder.slice().forEach(function (cid) {
      var rec = pending[cid];
      if (rec && (rec.state === 'acked' || matched[cid])) {
        removePending(cid);
      }
    });
    scrollToBottom(true);
  }

  // ---------------------------------------------------------------------
  // Outgoing messages
  // ---------------------------------------------------------------------

  var STATE_LABELS = {
    queued: 'Waiting for connection\u2026',
    sent: 'Sending\u2026',
    acked: 'Sent',
    failed: 'Not sent'
  };

  function setPendingState(rec, state) {
    rec.state = state;
    rec.el.setAttribute('data-state', state);
    rec.el.classList.toggle('fd-msg--failed', state === 'failed');
    rec.stateEl.textContent = STATE_LABELS[state];
    if (rec.retryEl) {
      // A refused button (e.g. a stale option) is not worth retrying.
      rec.retryEl.hidden = state !== 'failed' || rec.frame.type !== 'message';
    }
  }

  function buildPendingEl(rec, displayText) {
    var msg = buildMessage('customer', { text: displayText, ts: Date.now() / 1000, channel: 'web' });
    msg.classList.add('fd-msg--pending');
    msg.setAttribute('data-pending', 'true');
    msg.setAttribute('data-client-id', rec.clientId);
    var meta = msg.querySelector('.fd-meta');
    var stateEl = h('span', 'fd-state');
    var retry = h('button', 'fd-retry', { type: 'button' }, 'Retry');
    retry.hidden = true;
    retry.addEventListener('click', function () {
      removePending(rec.clientId);
      var frame = {};
      for (var k in rec.frame) {
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
    var clientId = newClientId();
    frame.client_id = clientId;
    var rec = { clientId: clientId, frame: frame, state: 'queued', el: null, stateEl: null, retryEl: null };
    rec.el = buildPendingEl(rec, displayText);
    retireButtons(Infinity);
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
    pendingOrder.slice().forEach(function (cid) {
      var rec = pending[cid];
      // Un-acked messages are re-sent with the same client_id, so the
      // server can recognise a message it already has.
      if (rec && (rec.state === 'queued' || rec.state === 'sent')) {
        trySend(rec);
      }
    });
  }

  function markFailed(clientId) {
    var rec = pending[clientId];
    if (rec) {
      setPendingState(rec, 'failed');
    }
  }

  function onSubmit(ev) {
    if (ev) {
      ev.preventDefault();
    }
    var text = ui.input.value.trim();
    if (!text) {
      ui.input.value = '';
      updateComposer();
      return;
    }
    if (charCount(text) > MAX_LEN) {
      setError('Your message is too long \u2014 please keep it under ' + MAX_LEN + ' characters.', true);
      ui.input.focus();
      return;
    }
    ui.input.value = '';
    updateComposer();
    submitOutgoing({ type: 'message', text: text }, text);
    ui.input.focus();
  }

  var tooLongShown = false;

  function updateComposer() {
    var input = ui.input;
    // Grow with the content up to the CSS max-height (CSSOM, CSP-safe).
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 160) + 'px';
    var n = charCount(input.value.trim());
    var over = n > MAX_LEN;
    ui.counter.hidden = n < COUNTER_FROM;
    ui.counter.textContent = n + ' / ' + MAX_LEN;
    ui.counter.classList.toggle('fd-counter--over', over);
    ui.send.classList.toggle('fd-send--idle', n === 0 || over);
    ui.send.setAttribute('aria-disabled', n === 0 || over ? 'true' : 'false');
    input.setAttribute('aria-invalid', over ? 'true' : 'false');
    if (over) {
      setError('Your message is too long: ' + n + ' of ' + MAX_LEN + ' characters. Please shorten it.', true);
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
      .then(function (res) {
        if (!res.ok) {
          throw new Error('session ' + res.status);
        }
        return res.json();
      })
      .then(function (data) {
        if (!data || typeof data.token !== 'string' || !data.token) {
          throw new Error('session: no token');
        }
        saveToken(data.token);
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
      function (token) {
        connecting = false;
        openSocket(token);
      },
      function () {
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
    var delay = Math.min(BACKOFF_BASE_MS * Math.pow(2, attempt), BACKOFF_MAX_MS);
    attempt++;
    retryTimer = window.setTimeout(function () {
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
    pingTimer = window.setInterval(function () {
      if (sock !== ws || sock.readyState !== 1) {
        return;
      }
      try {
        sock.send(JSON.stringify({ type: 'ping' }));
      } catch (e) {
        return;
      }
      window.clearTimeout(pongTimer);
      pongTimer = window.setTimeout(function () {
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
    pendingOrder.forEach(function (cid) {
      var rec = pending[cid];
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
    var sock;
    try {
      sock = new WebSocket(wsBase + '/webchat/ws?token=' + encodeURIComponent(token));
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    wsReady = false;

    sock.addEventListener('open', function () {
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

    sock.addEventListener('message', function (ev) {
      if (sock !== ws) {
        return;
      }
      window.clearTimeout(pongTimer); // any frame proves the socket alive
      var frame;
      try {
        frame = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (frame && typeof frame === 'object') {
        handleFrame(frame);
      }
    });

    sock.addEventListener('close', function (ev) {
      dropSocket(sock, ev.code);
    });
  }

  function handleFrame(f) {
    switch (f.type) {
      case 'history':
        attempt = 0;
        authFailures = 0;
        renderHistory(f.entries);
        markReady();
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
        setError(typeof f.text === 'string' && f.text ? f.text : 'Something went wrong. Please try again.');
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

    ui.launcher.addEventListener('click', function () {
      setOpen(!isOpen, { focus: true });
    });
    ui.closeBtn.addEventListener('click', function () {
      setOpen(false, { focus: true });
    });
    ui.noticeClose.addEventListener('click', function () {
      showNotice('clear');
    });
    ui.panel.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        setOpen(false, { focus: true });
      }
    });
    ui.form.addEventListener('submit', onSubmit);
    ui.input.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        onSubmit(null);
      }
    });
    ui.input.addEventListener('input', updateComposer);

    window.addEventListener('online', function () {
      if (!ws && !connecting) {
        attempt = 0;
        connect();
      }
    });

    updateComposer();
    setOpen(startOpen, { focus: false });
    injectStylesheet(function () {
      ui.root.hidden = false;
      updateComposer();
      scrollToBottom(true);
    });
    connect();
  }

  window.FrontDoor = {
    __frontdoor: true,
    open: function () {
      if (ui) {
        setOpen(true, { focus: true });
      }
    },
    close: function () {
      if (ui) {
        setOpen(false, { focus: false });
      }
    }
  };

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
