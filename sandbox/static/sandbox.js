/*
 * Front Door sandbox page: one person as a Telegram user, a Slack user and a
 * phone, side by side. Each pane talks only to its platform's control API
 * (/{platform}/_sandbox/send | press | transcript) on this same server.
 *
 * Everything shown comes from the network and is untrusted. Customer text is
 * set with textContent; bot text is parsed by hand (Slack mrkdwn) or, for
 * Telegram HTML, through the shared allow-list (core/static/safe-html.js).
 * Nothing is ever assigned to innerHTML of a live element.
 */
(() => {
  'use strict';

  const { el } = globalThis.FrontDoorDom;
  const { sanitize } = globalThis.FrontDoorSafeHtml;
  const POLL_MS = 700;
  const POLL_HIDDEN_MS = 3000; // background tab: keep up, but gently
  const POLL_ERROR_MS = 2000; // sandbox down or router missing: back off
  const USER_DEBOUNCE_MS = 400;
  const NEAR_BOTTOM_PX = 48;
  const SAFE_SCHEMES = ['http:', 'https:', 'mailto:', 'tel:'];
  const API_BASE = document.body.getAttribute('data-api-base') || '';

  // -------------------------------------------------------------------
  // Small helpers
  // -------------------------------------------------------------------

  function safeHref(raw) {
    let url;
    try {
      url = new URL(String(raw).trim()); // absolute URLs only
    } catch (e) {
      return null;
    }
    return SAFE_SCHEMES.indexOf(url.protocol) >= 0 ? url.href : null;
  }

  function link(href, children) {
    return el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, children);
  }

  function clock(ts) {
    const n = Number(ts);
    if (!isFinite(n) || n <= 0) {
      return '';
    }
    const d = new Date(n * 1000);
    return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
  }

  function asString(v) {
    return v === undefined || v === null ? '' : String(v);
  }

  // -------------------------------------------------------------------
  // Telegram: HTML in the Bot API's subset
  // -------------------------------------------------------------------

  // Telegram's tags (with their documented aliases). The shared sanitiser
  // keeps them; any other element (Telegram would reject the message) is
  // shown as its markup, as text, so a rendering bug is visible, not executed.
  const TELEGRAM_TAGS = ['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'code', 'pre',
    'blockquote', 'a', 'tg-spoiler', 'span'];

  function telegramNodes(html) {
    return sanitize(asString(html), { only: TELEGRAM_TAGS });
  }

  // -------------------------------------------------------------------
  // Slack: mrkdwn, parsed by hand
  // -------------------------------------------------------------------

  const SLACK_ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>' };
  const MARK_TAGS = { '*': 'b', '_': 'i', '~': 's' };
  const PLACEHOLDER = 0xE000; // private-use code points stand in for parsed tokens
  // An emphasis run: the marker after start/space/punctuation, no space just
  // inside it, and the closing marker before end/space/punctuation.
  const EMPHASIS = /(^|[\s([{"'\u2018\u201c])([*_~])(?=\S)([^\n]*?[^\s])\2(?=$|[\s.,;:!?)\]}"'\u2019\u201d])/;

  function slackDecode(text) {
    return text.replace(/&(amp|lt|gt);/g, (m) => { return SLACK_ENTITIES[m]; });
  }

  function slackNodes(mrkdwn) {
    const tokens = [];
    let text = asString(mrkdwn).replace(/[\uE000-\uF8FF]/g, '\uFFFD');

    function hold(node) {
      tokens.push(node);
      return String.fromCharCode(PLACEHOLDER + tokens.length - 1);
    }

    // 1. Code blocks and inline code: their content is literal.
    // (A code block is a block: the line breaks around its fences are not text.)
    text = text.replace(/\n?```([\s\S]*?)```\n?/g, (m, code) => {
      return hold(el('pre', { text: slackDecode(code.replace(/^\n|\n$/g, '')) }));
    });
    text = text.replace(/`([^`\n]+)`/g, (m, code) => {
      return hold(el('code', { text: slackDecode(code) }));
    });
    // 2. Links, mentions and special commands: <url|label>, <@U1>, <#C1|name>, <!here>.
    text = text.replace(/<([^<>\n]+)>/g, (m, inner) => {
      const bar = inner.indexOf('|');
      const target = bar >= 0 ? inner.slice(0, bar) : inner;
      const label = bar >= 0 ? inner.slice(bar + 1) : '';
      const first = target.charAt(0);
      if (first === '@' || first === '#' || first === '!') {
        const shown = label || target.slice(1);
        const sigil = first === '!' ? '@' : first;
        return hold(el('span', { class: 'sl-mention', text: sigil + slackDecode(shown) }));
      }
      const href = safeHref(slackDecode(target));
      return hold(href ? link(href, slackInline(label || target, tokens))
        : el('span', { text: slackDecode(label || target) }));
    });
    // 3. Block quotes, line by line; emphasis inside each line.
    const out = document.createDocumentFragment();
    const lines = text.split('\n');
    let quote = null;
    lines.forEach((line, i) => {
      const m = /^> ?(.*)$/.exec(line); // a literal '>' (an escaped one is &gt;)
      if (m) {
        if (!quote) {
          quote = el('blockquote');
          out.appendChild(quote);
        } else {
          quote.appendChild(document.createTextNode('\n'));
        }
        slackInline(m[1], tokens).forEach((n) => { quote.appendChild(n); });
        return;
      }
      quote = null;
      slackInline(line, tokens).forEach((n) => { out.appendChild(n); });
      if (i < lines.length - 1 && lines[i + 1].charAt(0) !== '>') { // a quote is a block already
        out.appendChild(document.createTextNode('\n'));
      }
    });
    return out;
  }

  // Emphasis over one line; placeholders become the tokens parsed earlier.
  function slackInline(text, tokens) {
    let nodes = [];
    const m = EMPHASIS.exec(text);
    if (!m) {
      return plainWithTokens(text, tokens);
    }
    const before = text.slice(0, m.index) + m[1];
    const after = text.slice(m.index + m[0].length);
    const wrap = el(MARK_TAGS[m[2]]);
    slackInline(m[3], tokens).forEach((n) => { wrap.appendChild(n); });
    nodes = nodes.concat(plainWithTokens(before, tokens), [wrap], slackInline(after, tokens));
    return nodes;
  }

  function plainWithTokens(text, tokens) {
    const nodes = [];
    let buf = '';
    for (let i = 0; i < text.length; i++) {
      const idx = text.charCodeAt(i) - PLACEHOLDER;
      if (idx >= 0 && idx < tokens.length) {
        if (buf) {
          nodes.push(document.createTextNode(slackDecode(buf)));
          buf = '';
        }
        nodes.push(tokens[idx].cloneNode(true));
      } else {
        buf += text.charAt(i);
      }
    }
    if (buf) {
      nodes.push(document.createTextNode(slackDecode(buf)));
    }
    return nodes;
  }

  // -------------------------------------------------------------------
  // SMS: GSM-7 / UCS-2 segments (when the sandbox does not say)
  // -------------------------------------------------------------------

  const GSM_BASIC = '@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5' +
    '\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\u00c6\u00e6\u00df\u00c9' +
    ' !"#\u00a4%&\'()*+,-./0123456789:;<=>?\u00a1ABCDEFGHIJKLMNOPQRSTUVWXYZ\u00c4\u00d6\u00d1' +
    '\u00dc\u00a7\u00bfabcdefghijklmnopqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0';
  const GSM_EXTENDED = '\f^{}\\[~]|\u20ac'; // each costs an escape plus the character

  function smsSegments(text) {
    let units = [];
    let gsm = true;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charAt(i);
      if (GSM_BASIC.indexOf(ch) >= 0) {
        units.push(1);
      } else if (GSM_EXTENDED.indexOf(ch) >= 0) {
        units.push(2);
      } else {
        gsm = false;
        break;
      }
    }
    if (!gsm) {
      // UCS-2 counts UTF-16 code units; a surrogate pair is never split.
      units = [];
      for (let j = 0; j < text.length; j++) {
        const c = text.charCodeAt(j);
        if (c >= 0xD800 && c <= 0xDBFF && j + 1 < text.length) {
          units.push(2);
          j++;
        } else {
          units.push(1);
        }
      }
    }
    const single = gsm ? 160 : 70;
    const part = gsm ? 153 : 67;
    const total = units.reduce((a, b) => { return a + b; }, 0);
    let segments = 1;
    if (total > single) {
      let used = 0;
      units.forEach((u) => {
        if (used + u > part) {
          segments++;
          used = 0;
        }
        used += u;
      });
    }
    return { segments: segments, encoding: gsm ? 'GSM-7' : 'UCS-2', units: total,
             single: single, part: part };
  }

  function encodingLabel(raw) {
    const s = asString(raw);
    if (/gsm/i.test(s)) {
      return 'GSM-7';
    }
    if (/ucs|utf-?16|unicode/i.test(s)) {
      return 'UCS-2';
    }
    return s;
  }

  function segmentHint(msg) {
    const guess = smsSegments(asString(msg.text));
    const n = Number(msg.segments);
    const segments = isFinite(n) && n > 0 ? n : guess.segments;
    const encoding = msg.encoding ? encodingLabel(msg.encoding) : guess.encoding;
    return segments + (segments === 1 ? ' segment' : ' segments') + ', ' + encoding;
  }

  // -------------------------------------------------------------------
  // Rendering one message per platform
  // -------------------------------------------------------------------

  const PLATFORMS = {
    telegram: {
      name: 'Telegram',
      body(msg) {
        return msg.from === 'bot' ? telegramNodes(msg.text) : document.createTextNode(asString(msg.text));
      }
    },
    slack: {
      name: 'Slack',
      body(msg) {
        return msg.from === 'bot' ? slackNodes(msg.text) : document.createTextNode(asString(msg.text));
      }
    },
    sms: {
      name: 'SMS',
      body(msg) {
        return document.createTextNode(asString(msg.text));
      }
    }
  };

  function renderMessage(pane, msg) {
    const from = msg.from === 'bot' ? 'bot' : 'user';
    const row = el('div', { class: 'msg msg--' + from });
    row.setAttribute('data-testid', 'msg');
    row.setAttribute('data-from', from);
    row.setAttribute('data-id', asString(msg.id));

    if (pane.platform === 'slack') {
      // Slack: avatar, name and time above the text, no bubbles.
      row.appendChild(el('div', { class: 'msg-avatar', text: from === 'bot' ? 'B' : (pane.user.charAt(0) || '?') }));
      const main = el('div', { class: 'msg-main' });
      const meta = el('div', { class: 'msg-meta' });
      meta.appendChild(el('span', { class: 'msg-name', text: from === 'bot' ? 'Brightside' : pane.user }));
      if (from === 'bot') {
        meta.appendChild(el('span', { class: 'pane-badge', text: 'APP' }));
      }
      meta.appendChild(el('span', { class: 'msg-time', text: clock(msg.ts) }));
      main.appendChild(meta);
      const sText = el('div', { class: 'msg-text' });
      sText.appendChild(PLATFORMS.slack.body(msg));
      main.appendChild(sText);
      addButtons(pane, main, msg);
      row.appendChild(main);
      return row;
    }

    const bubble = el('div', { class: 'msg-bubble' });
    const text = el('div', { class: 'msg-text' });
    text.appendChild(PLATFORMS[pane.platform].body(msg));
    bubble.appendChild(text);
    if (pane.platform === 'telegram') {
      bubble.appendChild(el('span', { class: 'msg-time', text: clock(msg.ts) }));
    }
    row.appendChild(bubble);
    if (pane.platform === 'sms') {
      row.appendChild(el('div', { class: 'msg-hint', text: segmentHint(msg) }));
    } else {
      addButtons(pane, row, msg);
      addReplyKeyboard(pane, row, msg);
    }
    return row;
  }

  // A Telegram reply keyboard: a button sends its text, or (request_contact)
  // the user's own contact, as the Telegram app does after asking for consent.
  function addReplyKeyboard(pane, parent, msg) {
    const keys = Array.isArray(msg.keyboard) ? msg.keyboard : [];
    if (msg.from !== 'bot' || keys.length === 0) {
      return;
    }
    const box = el('div', { class: 'msg-buttons' });
    keys.forEach((key) => {
      const b = el('button', { class: 'msg-button', text: asString(key.text) });
      b.type = 'button';
      b.setAttribute('data-testid', key.request_contact ? 'share-contact' : 'keyboard-button');
      b.addEventListener('click', () => {
        if (!pane.user) {
          showError(pane, 'send', 'Enter a user first.');
          return;
        }
        if (key.request_contact) {
          const phone = window.prompt('Share your phone number with the bot (as Telegram would):',
                                    '+15551230000');
          if (phone && phone.trim()) {
            enqueue(pane, { user: pane.user, kind: 'contact', phone: phone.trim(),
                            text: '' });
          }
        } else {
          enqueue(pane, { user: pane.user, text: asString(key.text) });
        }
      });
      box.appendChild(b);
    });
    parent.appendChild(box);
  }

  function addButtons(pane, parent, msg) {
    const titles = Array.isArray(msg.buttons) ? msg.buttons : [];
    if (!pane.hasButtons || msg.from !== 'bot' || titles.length === 0) {
      return;
    }
    const box = el('div', { class: 'msg-buttons' });
    titles.forEach((title, index) => {
      const b = el('button', { class: 'msg-button', text: asString(title) });
      b.type = 'button';
      b.setAttribute('data-testid', 'button');
      b.addEventListener('click', () => { press(pane, msg.id, index, b); });
      box.appendChild(b);
    });
    parent.appendChild(box);
  }

  // -------------------------------------------------------------------
  // One pane: identity, polling, sending, pressing
  // -------------------------------------------------------------------

  function api(pane, path) {
    return API_BASE + pane.api + '/_sandbox/' + path;
  }

  function showError(pane, kind, message) {
    pane.errorKind = kind;
    pane.error.textContent = message;
    pane.error.hidden = false;
  }

  function clearError(pane, kind) {
    if (!kind || pane.errorKind === kind) {
      pane.errorKind = null;
      pane.error.textContent = '';
      pane.error.hidden = true;
    }
  }

  function describeFailure(response, body) {
    let detail = body && body.detail !== undefined ? body.detail : body;
    if (detail && typeof detail !== 'string') {
      detail = JSON.stringify(detail);
    }
    detail = asString(detail).slice(0, 200);
    return 'HTTP ' + response.status + (detail ? ': ' + detail : '');
  }

  function postJson(url, payload) {
    return fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(payload),
      cache: 'no-store'
    }).then((response) => {
      return response.text().then((raw) => {
        let body = null;
        try {
          body = raw ? JSON.parse(raw) : null;
        } catch (e) {
          body = raw;
        }
        return { response: response, body: body };
      });
    });
  }

  function nearBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
  }

  function render(pane, messages) {
    const box = pane.messages;
    const stick = pane.stuck || messages.length > pane.count;
    const keep = box.scrollTop;
    const frag = document.createDocumentFragment();
    if (messages.length === 0) {
      frag.appendChild(el('p', { class: 'pane-empty', text: pane.user ? 'No messages yet. Say hello as ' + pane.user + '.' : 'Choose a user above.' }));
    }
    messages.forEach((msg) => {
      if (msg && typeof msg === 'object') {
        frag.appendChild(renderMessage(pane, msg));
      }
    });
    box.replaceChildren(frag);
    pane.count = messages.length;
    box.scrollTop = stick ? box.scrollHeight : keep;
    pane.stuck = nearBottom(box);
  }

  function schedule(pane, ms) {
    clearTimeout(pane.timer);
    pane.timer = setTimeout(() => { poll(pane); }, ms);
  }

  function poll(pane) {
    clearTimeout(pane.timer);
    if (!pane.user) {
      render(pane, []);
      return; // resumes when a user is entered
    }
    const generation = pane.generation;
    const seq = ++pane.seq;
    const url = api(pane, 'transcript') + '?user=' + encodeURIComponent(pane.user);
    fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then((response) => {
        return response.text().then((raw) => {
          if (generation !== pane.generation) {
            return; // the user changed meanwhile: this answer is about someone else
          }
          if (!response.ok) {
            const failure = new Error('the ' + PLATFORMS[pane.platform].name +
                                    ' sandbox answered HTTP ' + response.status);
            failure.shown = true;
            throw failure;
          }
          clearError(pane, 'poll');
          if (seq < pane.applied) {
            return; // an older poll that finished late (a send polls at once)
          }
          pane.applied = seq;
          if (raw !== pane.lastRaw) { // re-render only on change
            const messages = JSON.parse(raw);
            render(pane, Array.isArray(messages) ? messages : []);
            pane.lastRaw = raw;
          }
        });
      })
      .then(() => {
        if (generation === pane.generation) {
          schedule(pane, document.hidden ? POLL_HIDDEN_MS : POLL_MS);
        }
      }, (err) => {
        if (generation !== pane.generation) {
          return;
        }
        const why = err && err.shown ? err.message
          : 'the ' + PLATFORMS[pane.platform].name + ' sandbox is unreachable';
        showError(pane, 'poll', 'Cannot load the chat: ' + why + '.');
        schedule(pane, POLL_ERROR_MS);
      });
  }

  function setUser(pane, value) {
    const user = value.trim();
    if (user === pane.user) {
      return;
    }
    pane.user = user;
    pane.generation++;
    pane.lastRaw = null;
    pane.count = 0;
    clearError(pane);
    poll(pane);
  }

  // Sends go out one at a time, in the order typed: the input is free again
  // at once, and a quick second message is queued, never dropped.
  function send(pane) {
    const text = pane.input.value;
    if (!text.trim()) {
      return;
    }
    if (!pane.user) {
      showError(pane, 'send', 'Enter a user first.');
      return;
    }
    pane.input.value = '';
    updateDraftHint(pane);
    enqueue(pane, { user: pane.user, text: text });
  }

  function enqueue(pane, item) {
    pane.queue.push(item);
    if (!pane.sending) {
      sendNext(pane);
    }
  }

  function sendNext(pane) {
    const item = pane.queue.shift();
    if (!item) {
      pane.sending = false;
      return;
    }
    pane.sending = true;
    const failed = (message) => {
      showError(pane, 'send', message);
      if (!pane.input.value) {
        pane.input.value = item.text; // give the text back to retry
        updateDraftHint(pane);
      }
    };
    postJson(api(pane, 'send'), item)
      .then((r) => {
        if (!r.response.ok) {
          failed('Send failed: the sandbox answered ' + describeFailure(r.response, r.body) + '.');
          return;
        }
        const status = r.body && typeof r.body.status === 'number' ? r.body.status : 0;
        if (status >= 200 && status < 300) {
          clearError(pane);
        } else {
          showError(pane, 'send', 'The gateway answered HTTP ' + (status || '?') +
                    ' to the webhook delivery.');
        }
      }, () => {
        failed('Send failed: the sandbox server is unreachable.');
      })
      .then(() => {
        poll(pane);
        sendNext(pane);
      });
  }

  function press(pane, messageId, index, button) {
    button.disabled = true;
    postJson(api(pane, 'press'), { user: pane.user, message_id: asString(messageId), index: index })
      .then((r) => {
        if (!r.response.ok) {
          showError(pane, 'press', 'Button not pressed: the sandbox answered ' +
                    describeFailure(r.response, r.body) + '.');
          return;
        }
        const status = r.body && typeof r.body.status === 'number' ? r.body.status : 200;
        if (status >= 200 && status < 300) {
          clearError(pane);
        } else {
          showError(pane, 'press', 'The gateway answered HTTP ' + status + ' to the button press.');
        }
      }, () => {
        showError(pane, 'press', 'Button not pressed: the sandbox server is unreachable.');
      })
      .then(() => {
        button.disabled = false;
        poll(pane);
      });
  }

  function updateDraftHint(pane) {
    if (!pane.draftHint) {
      return;
    }
    const text = pane.input.value;
    if (!text) {
      pane.draftHint.textContent = '';
      return;
    }
    const s = smsSegments(text);
    const room = s.segments === 1 ? s.single : s.segments * s.part;
    pane.draftHint.textContent = s.units + '/' + room + ' \u00b7 ' + s.segments +
      (s.segments === 1 ? ' segment, ' : ' segments, ') + s.encoding;
  }

  function setupPane(section) {
    const q = (id) => section.querySelector('[data-testid="' + id + '"]');
    const pane = {
      platform: section.getAttribute('data-platform'),
      api: section.getAttribute('data-api'),
      hasButtons: section.getAttribute('data-buttons') === 'true',
      userInput: q('user'),
      input: q('input'),
      send: q('send'),
      messages: q('messages'),
      error: q('error'),
      draftHint: section.querySelector('[data-role="draft-hint"]'),
      user: null,
      generation: 0,
      seq: 0,
      applied: 0,
      lastRaw: null,
      count: 0,
      timer: null,
      sending: false,
      queue: [],
      errorKind: null,
      stuck: true
    };
    let debounce = null;
    pane.userInput.addEventListener('input', () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => { setUser(pane, pane.userInput.value); }, USER_DEBOUNCE_MS);
    });
    pane.userInput.addEventListener('change', () => {
      clearTimeout(debounce);
      setUser(pane, pane.userInput.value);
    });
    section.querySelector('form').addEventListener('submit', (event) => {
      event.preventDefault();
      send(pane);
    });
    pane.input.addEventListener('input', () => { updateDraftHint(pane); });
    // Follow the newest message while the reader is at the bottom, also when
    // the pane changes size; leave them alone once they scroll up to read.
    pane.messages.addEventListener('scroll', () => { pane.stuck = nearBottom(pane.messages); });
    if (window.ResizeObserver) {
      new ResizeObserver(() => {
        if (pane.stuck) {
          pane.messages.scrollTop = pane.messages.scrollHeight;
        }
      }).observe(pane.messages);
    }
    setUser(pane, pane.userInput.value);
    return pane;
  }

  const panes = Array.prototype.map.call(document.querySelectorAll('[data-platform]'), setupPane);

  // Coming back to the tab: catch up at once rather than at the slow pace.
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) {
      panes.forEach((pane) => {
        if (pane.user) {
          poll(pane);
        }
      });
    }
  });
})();
