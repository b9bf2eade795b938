/*
 * Front Door agent console.
 *
 * Plain JavaScript, no build step. State comes from the agent API
 * (/api/agent/...) and live frames from the console socket (/agent/ws): on any
 * ticket event the queue is fetched again; entries of the customer on screen
 * arrive live ("watch"). Customer text is untrusted: the DOM is built with
 * textContent only; the one thing parsed as HTML is the server-sanitised
 * `html` of bot and agent entries, filtered again through the shared
 * allow-list (core/static/safe-html.js).
 */
(() => {
  'use strict';

  const { el } = globalThis.FrontDoorDom;
  const { sanitize } = globalThis.FrontDoorSafeHtml;

  const CSRF = { 'X-Requested-With': 'frontdoor' };
  const PING_EVERY_MS = 30000;
  const BACKOFF_MAX_MS = 10000;
  const CHANNELS = {
    web: { icon: '\u25CE', label: 'Web chat' },
    telegram: { icon: '\u2708', label: 'Telegram' },
    slack: { icon: '#', label: 'Slack' },
    sms: { icon: '\u2709', label: 'SMS' },
  };
  const LANGUAGES = { en: 'English', de: 'Deutsch' };
  const AUTHORS = { customer: 'Customer', bot: 'Bot', agent: 'Agent', system: 'System' };
  // The knowledge policy's outcome of a bot message, as an agent reads it.
  const DECISIONS = {
    answer: 'answered from the knowledge base',
    clarify: 'asked which article was meant',
    fallback: 'could not answer',
    escalate: 'handed to a person',
  };
  const CARD_TEXT_CHARS = 160; // the server clips too (handoff/cards.py)

  const $ = (id) => document.getElementById(id);
  const root = $('console');
  if (!root) return;

  const state = {
    me: { username: root.dataset.me || '' },
    queue: { queued: [], mine: [], others: [], presence: {}, teams: {} },
    skew: 0, // browser clock minus server clock, seconds
    current: null, // the open ticket's detail from the API
    entryIds: new Set(),
    noteKeys: new Set(),
    watching: null,
    replyChannel: null, // the customer's current channel
    presence: 'online',
    socket: null,
    backoff: 1000,
    pinger: null,
    queueTimer: null,
    detailTimer: null,
  };

  // -- helpers ---------------------------------------------------------------------------

  function channelBadge(channel, testid) {
    const info = CHANNELS[channel] || { icon: '?', label: channel || 'unknown' };
    return el('span', { class: `channel ch-${channel}`, title: info.label, testid, data: { channel } },
      el('span', { class: 'icon', 'aria-hidden': 'true', text: info.icon }), info.label);
  }

  function priorityBadge(ticket) {
    return el('span', { class: `priority p${ticket.priority}`, testid: 'priority',
      text: ticket.priority_name || String(ticket.priority) });
  }

  // The customer's language as a badge: "DE" titled "Deutsch".
  function languageBadge(code, testid) {
    if (!code) return null;
    return el('span', { class: `lang lang-${code}`, testid: testid || 'language',
      title: LANGUAGES[code] || code, text: String(code).toUpperCase() });
  }

  // The server's label ("Asked for a person", handoff/cards.py); a bare key reads as words.
  function reasonText(ticket) {
    if (ticket.reason_label) return ticket.reason_label;
    const words = String(ticket.reason || '').replace(/[_:-]/g, ' ').trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function clipped(text, limit) {
    const line = String(text || '').replace(/\s+/g, ' ').trim();
    return line.length > limit ? `${line.slice(0, limit - 1)}\u2026` : line;
  }

  function teamName(team) {
    return (state.queue.teams && state.queue.teams[team]) || team;
  }

  function customerName(ticket) {
    return ticket.display_name || (ticket.card && ticket.card.name)
      || `Customer ${String(ticket.customer_id).slice(0, 8)}`;
  }

  function serverNow() {
    return Date.now() / 1000 - state.skew;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
    const h = Math.floor(m / 60);
    return h < 48 ? `${h}h ${String(m % 60).padStart(2, '0')}m` : `${Math.floor(h / 24)} days`;
  }

  function clock(ts) {
    const date = new Date((Number(ts) + state.skew) * 1000);
    const today = new Date().toDateString() === date.toDateString();
    const time = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    return today ? time : `${date.toLocaleDateString()} ${time}`;
  }

  function since(ts, label) {
    return el('span', { class: 'since', data: { since: String(ts), label: label || '' },
      text: (label || '') + duration(serverNow() - ts) });
  }

  function tick() {
    for (const node of document.querySelectorAll('[data-since]')) {
      node.textContent = node.dataset.label + duration(serverNow() - Number(node.dataset.since));
    }
    for (const node of document.querySelectorAll('[data-due]')) {
      const left = Number(node.dataset.due) - serverNow();
      node.textContent = left >= 0 ? `SLA ${duration(left)} left` : `SLA overdue by ${duration(-left)}`;
      node.classList.toggle('overdue', left < 0);
    }
  }

  // One toast in the role="status" region: screen readers hear it, it goes after 8 s.
  let flashTimer = null;
  function flash(text, kind) {
    const node = $('flash');
    node.textContent = text;
    node.className = `toast${kind === 'ok' || kind === 'error' ? ` toast-${kind}` : ''}`;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { node.textContent = ''; node.className = 'toast'; }, 8000);
  }

  // -- API --------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  function toLogin() {
    location.href = '/login?next=' + encodeURIComponent('/agent' + location.hash);
  }

  async function api(method, path, body) {
    const init = { method, headers: { ...CSRF }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      toLogin();
      throw new ApiError(401, 'Your session ended: sign in again.');
    }
    let data = null;
    try { data = await response.json(); } catch (_) { /* no body */ }
    if (!response.ok) {
      let detail = data && data.detail;
      if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join('; ');
      throw new ApiError(response.status, detail || response.statusText);
    }
    return data;
  }

  const ticketPath = (ref, action) =>
    `/api/agent/tickets/${encodeURIComponent(ref)}${action ? '/' + action : ''}`;

  // -- the queue ----------------------------------------------------------------------------

  function scheduleQueueRefresh() {
    clearTimeout(state.queueTimer);
    state.queueTimer = setTimeout(refreshQueue, 120);
  }

  async function refreshQueue() {
    try {
      renderQueue(await api('GET', '/api/agent/queue'));
    } catch (error) {
      if (error.status !== 401) flash(`Could not load the queue: ${error.message}`, 'error');
    }
  }

  function learnSkew(queue) {
    const sample = [...queue.queued, ...queue.mine].find((t) => typeof t.waiting_s === 'number');
    if (sample) state.skew = Date.now() / 1000 - (sample.created_at + sample.waiting_s);
  }

  function renderQueue(queue) {
    state.queue = queue;
    learnSkew(queue);
    renderTeamFilter();
    const team = $('team-filter').value;
    const queued = queue.queued.filter((t) => !team || t.team === team);
    fillList('queue', 'queue-empty', queued, (t) => ticketItem(t, 'queue-item', true));
    fillList('mine', 'mine-empty', queue.mine, (t) => ticketItem(t, 'mine-item', false));
    fillList('others', 'others-empty', queue.others, (t) => ticketItem(t, 'others-item', false));
    $('queue-count').textContent = String(queued.length);
    $('mine-count').textContent = String(queue.mine.length);
    renderTransferOptions();
    document.title = `${queued.length ? `(${queued.length}) ` : ''}Agent console · Front Door`;
  }

  function renderTeamFilter() {
    const select = $('team-filter');
    const chosen = select.value;
    const options = [el('option', { value: '', text: 'All teams' })];
    for (const [id, name] of Object.entries(state.queue.teams || {})) {
      options.push(el('option', { value: id, text: name }));
    }
    select.replaceChildren(...options);
    select.value = chosen in (state.queue.teams || {}) ? chosen : '';
  }

  function fillList(listId, emptyId, tickets, render) {
    $(listId).replaceChildren(...tickets.map(render));
    $(emptyId).hidden = tickets.length > 0;
  }

  // A card an agent can choose by: who (name or handle), where (every channel they
  // are on), why, the last thing they asked (text only: it is the customer's),
  // how long they have waited, their language. Claim sits on the right.
  function ticketItem(ticket, testid, claimable) {
    const open = state.current && state.current.ticket.ref === ticket.ref;
    const card = ticket.card || { name: customerName(ticket), handle: '', channels: [ticket.channel],
      last_text: (ticket.summary && ticket.summary.last_customer_text) || '' };
    const asked = clipped(card.last_text, CARD_TEXT_CHARS);
    const summary = el('button', { type: 'button', class: 'open',
      'aria-label': `Open ${ticket.ref}: ${card.name}, ${reasonText(ticket)}`,
      onclick: () => openTicket(ticket.ref, ticket.customer_id) },
      el('span', { class: 'line who' },
        el('strong', { class: 'name', testid: 'card-name', text: card.name }),
        card.handle ? el('span', { class: 'handle', testid: 'card-handle', text: card.handle }) : null,
        languageBadge(ticket.language)),
      el('span', { class: 'line', testid: 'card-channels' },
        (card.channels || [ticket.channel]).map((c) => channelBadge(c, 'card-channel')),
        priorityBadge(ticket)),
      asked ? el('span', { class: 'asked', testid: 'card-asked', title: card.last_text, text: `\u201C${asked}\u201D` })
        : null,
      el('span', { class: 'line small' },
        el('span', { class: 'reason', testid: 'card-reason', text: reasonText(ticket) })),
      el('span', { class: 'line small' },
        el('span', { class: 'team', text: teamName(ticket.team) }),
        ticket.status === 'claimed' && testid === 'others-item'
          ? el('span', { text: `with ${ticket.agent}` })
          : since(ticket.created_at, ticket.status === 'queued' ? 'waiting ' : 'open for '),
        ticket.position ? el('span', { class: 'position', title: 'Place in its team\u2019s queue',
          text: `#${ticket.position}` }) : null,
        el('span', { class: 'ref', text: ticket.ref })));
    const item = el('li', { class: `ticket${open ? ' active' : ''}`, testid,
      data: { ref: ticket.ref, channel: ticket.channel, customer: ticket.customer_id } }, summary);
    if (claimable) {
      item.append(el('button', { type: 'button', class: 'claim btn btn-primary btn-small', testid: 'claim',
        'aria-label': `Claim ${ticket.ref} (${card.name})`, text: 'Claim', onclick: () => claim(ticket.ref) }));
    }
    return item;
  }

  async function claim(ref) {
    try {
      await api('POST', ticketPath(ref, 'claim'));
      flash(`You have ${ref}.`, 'ok');
      scheduleQueueRefresh();
      await openTicket(ref);
    } catch (error) {
      if (error.status === 409) flash(`${ref}: ${error.message}`, 'error');
      else flash(`Claim failed: ${error.message}`, 'error');
      scheduleQueueRefresh();
      if (state.current && state.current.ticket.ref === ref) scheduleDetailRefresh();
    }
  }

  // -- the conversation ---------------------------------------------------------------------

  function watch(customerId) {
    state.watching = customerId;
    send({ type: 'watch', customer_id: customerId });
  }

  async function openTicket(ref, customerId) {
    const switching = !state.current || state.current.ticket.ref !== ref;
    if (customerId && state.watching !== customerId) watch(customerId);
    let detail;
    try {
      detail = await api('GET', ticketPath(ref));
    } catch (error) {
      flash(`Could not open ${ref}: ${error.message}`, 'error');
      return;
    }
    const firstWatch = state.watching !== detail.ticket.customer_id;
    if (firstWatch) watch(detail.ticket.customer_id);
    if (location.hash !== `#${ref}`) history.replaceState(null, '', `#${ref}`);
    showDetail(detail, switching);
    for (const item of document.querySelectorAll('.ticket')) {
      item.classList.toggle('active', item.dataset.ref === ref);
    }
    if (firstWatch) scheduleDetailRefresh(400); // entries written before the watch began
  }

  function scheduleDetailRefresh(delay) {
    clearTimeout(state.detailTimer);
    state.detailTimer = setTimeout(refreshDetail, delay || 120);
  }

  async function refreshDetail() {
    if (!state.current) return;
    const ref = state.current.ticket.ref;
    try {
      const detail = await api('GET', ticketPath(ref));
      if (state.current && state.current.ticket.ref === ref) showDetail(detail, false);
    } catch (error) {
      if (error.status !== 401) flash(`Could not refresh ${ref}: ${error.message}`, 'error');
    }
  }

  function showDetail(detail, fresh) {
    state.current = detail;
    $('placeholder').hidden = true;
    $('conversation').hidden = false;
    if (fresh) {
      $('transcript').replaceChildren();
      state.entryIds = new Set();
      state.noteKeys = new Set();
      $('reply-text').value = '';
      state.replyChannel = null;
    }
    state.replyChannel = detail.customer.last_channel || state.replyChannel || detail.ticket.channel;
    renderHeader(detail);
    renderTimeline(detail);
    renderProfile(detail.customer);
    renderSummary(detail.ticket.summary || {});
    renderPrevious(detail.previous_tickets || []);
    renderReplyChannels(detail.customer);
    renderControls();
  }

  function heldByMe(ticket) {
    return ticket.status === 'claimed' &&
      (ticket.agent === state.me.username || (state.me.roles || []).includes('admin'));
  }

  function renderHeader(detail) {
    const { ticket, standing } = detail;
    $('conv-name').textContent = customerName(ticket);
    $('conv-ref').textContent = ticket.ref;
    // The customer's language now (an agent may have changed it since the ticket opened).
    const language = (detail.customer && detail.customer.language) || ticket.language;
    $('conv-language').replaceChildren(...(language ? [languageBadge(language, 'conv-language-badge')] : []));
    const status = ticket.status === 'claimed'
      ? (ticket.agent === state.me.username ? 'with you' : `with ${ticket.agent}`)
      : ticket.status;
    const statusNode = $('conv-status');
    statusNode.textContent = status;
    statusNode.className = `badge status st-${ticket.status}`;
    const facts = [
      channelBadge(ticket.channel), ' ', priorityBadge(ticket), ' ',
      el('span', { text: `${reasonText(ticket)} · ${teamName(ticket.team)} · opened ${clock(ticket.created_at)}` }),
    ];
    if (ticket.status === 'queued') {
      facts.push(' · ', since(ticket.created_at, 'waiting '));
      if (standing && standing.position) {
        const wait = standing.expected_wait_s ? `, expected wait ${duration(standing.expected_wait_s)}` : '';
        facts.push(el('span', { text: ` · #${standing.position} in the queue${wait}, ${standing.agents_online} agent(s) online${standing.team_open ? '' : ', team closed'}` }));
      }
    }
    if (ticket.status !== 'resolved' && !ticket.first_reply_at) {
      facts.push(' · ', el('span', { class: 'sla', data: { due: String(ticket.sla_due_at) } }));
    }
    if (ticket.status === 'resolved') {
      facts.push(el('span', { text: ` · resolved by ${ticket.resolved_by || '?'} ${clock(ticket.resolved_at)}` }));
      if (ticket.csat) facts.push(el('span', { class: 'csat', text: ` · rated ${ticket.csat}/5` }));
    }
    $('conv-facts').replaceChildren(...facts);
    tick();
  }

  function renderControls() {
    const ticket = state.current.ticket;
    const mine = heldByMe(ticket);
    $('claim').hidden = ticket.status !== 'queued';
    $('release').hidden = !mine;
    $('transfer-group').hidden = ticket.status === 'resolved' || (ticket.status === 'claimed' && !mine);
    $('resolve-group').hidden = ticket.status === 'resolved' || (ticket.status === 'claimed' && !mine);
    const canReply = mine;
    for (const id of ['reply-text', 'reply-send', 'reply-channel']) $(id).disabled = !canReply;
    $('reply-form').classList.toggle('disabled', !canReply);
    $('reply-hint').textContent = canReply ? '' :
      ticket.status === 'queued' ? 'Claim the conversation to reply.'
        : ticket.status === 'resolved' ? 'Resolved: the assistant has the conversation again.'
          : `${ticket.agent} holds this conversation.`;
  }

  function entryKey(entry) {
    return entry.id || `${entry.ts}|${entry.author}|${entry.text}`;
  }

  function noteKey(note) {
    return `${note.ts}|${note.author}|${note.text}`;
  }

  function renderTimeline(detail) {
    const items = [];
    for (const entry of detail.transcript || []) {
      if (!state.entryIds.has(entryKey(entry))) items.push({ ts: Number(entry.ts), entry });
    }
    for (const note of detail.notes || []) {
      if (!state.noteKeys.has(noteKey(note))) items.push({ ts: Number(note.ts), note });
    }
    items.sort((a, b) => a.ts - b.ts);
    for (const item of items) {
      if (item.entry) insertEntry(item.entry);
      else insertNote(item.note);
    }
  }

  function atBottom(list) {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  function place(node, ts) {
    const list = $('transcript');
    const stick = atBottom(list);
    node.dataset.ts = String(ts);
    let before = null;
    for (let child = list.lastElementChild; child; child = child.previousElementSibling) {
      if (Number(child.dataset.ts) <= ts) break;
      before = child;
    }
    list.insertBefore(node, before);
    if (stick || !before) list.scrollTop = list.scrollHeight;
  }

  function insertEntry(entry) {
    const key = entryKey(entry);
    if (state.entryIds.has(key)) return;
    state.entryIds.add(key);
    const meta = el('div', { class: 'meta' }, channelBadge(entry.channel),
      el('span', { class: 'author', testid: 'entry-author', text: AUTHORS[entry.author] || entry.author }),
      el('time', { text: clock(entry.ts) }));
    if (entry.article) {
      meta.append(el('span', { class: 'article', testid: 'entry-article',
        title: entry.article.title || '', text: `KB ${entry.article.id} v${entry.article.version}` }));
    }
    if (entry.decision) {
      meta.append(el('span', { class: 'decision', title: entry.decision,
        text: DECISIONS[entry.decision] || String(entry.decision).replace(/_/g, ' ') }));
    }
    if (entry.author === 'customer' && entry.language) meta.append(languageBadge(entry.language, 'entry-language'));
    const body = el('div', { class: 'text', testid: 'entry-text' });
    if (entry.html && (entry.author === 'bot' || entry.author === 'agent')) body.append(sanitize(entry.html));
    else body.textContent = entry.text;
    const node = el('li', { class: `entry a-${entry.author}`, testid: 'entry',
      data: { author: entry.author, channel: entry.channel, id: entry.id || '' } }, meta, body);
    if (entry.buttons && entry.buttons.length) {
      node.append(el('div', { class: 'offered' }, 'Offered: ',
        entry.buttons.map((b) => el('span', { class: 'offer', text: b.title }))));
    }
    place(node, Number(entry.ts));
  }

  function insertNote(note) {
    const key = noteKey(note);
    if (state.noteKeys.has(key)) return;
    state.noteKeys.add(key);
    place(el('li', { class: 'note', testid: 'note' },
      el('div', { class: 'meta' }, el('span', { class: 'note-label', text: 'Internal note' }),
        el('span', { class: 'author', text: note.author }), el('time', { text: clock(note.ts) }),
        el('span', { class: 'hint', text: 'never sent to the customer' })),
      el('div', { class: 'text', text: note.text })), Number(note.ts));
  }

  function renderProfile(customer) {
    const rows = [
      ['Name', customer.display_name || '(unknown)'],
      ['Customer id', customer.customer_id],
      ['First contact', customer.created_at ? clock(customer.created_at) : '?'],
      ['Last seen', customer.last_seen ? clock(customer.last_seen) : '?'],
    ];
    $('profile').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    $('profile').append(el('dt', { text: 'Language' }), el('dd', {}, languageChooser(customer)));
    $('identities').replaceChildren(...(customer.identities || []).map((identity) =>
      el('li', { testid: 'identity', data: { channel: identity.channel } }, channelBadge(identity.channel),
        el('span', { class: 'uid', text: identity.channel_user_id }),
        identity.channel === customer.last_channel ? el('span', { class: 'current', text: 'current' }) : null,
        identity.how ? el('span', { class: 'hint', text: ` ${String(identity.how).replace(/_/g, ' ')}` }) : null)));
  }

  // The agent sets the customer's language (the customer API; audited there).
  function languageChooser(customer) {
    const select = el('select', { class: 'input input-inline', testid: 'customer-language',
      'aria-label': "The customer's language",
      onchange: async () => {
        try {
          await api('PUT', `/api/customers/${encodeURIComponent(customer.customer_id)}/language`,
            { language: select.value });
          flash(`The customer's language is ${LANGUAGES[select.value]} now.`, 'ok');
          scheduleDetailRefresh();
          searchCanned();
        } catch (error) {
          flash(`Language not changed: ${error.message}`, 'error');
        }
      } },
    Object.entries(LANGUAGES).map(([code, name]) => el('option', { value: code, text: name })));
    select.value = customer.language || 'en';
    const how = customer.language_source ? el('span', { class: 'hint', testid: 'language-source',
      text: ` ${customer.language_source === 'detected' ? 'detected' : `chosen (${customer.language_source})`}` }) : null;
    return el('span', {}, select, how);
  }

  function renderSummary(summary) {
    const parts = [];
    if (summary.last_customer_text) {
      parts.push(el('p', {}, el('strong', { text: 'Last question: ' }), summary.last_customer_text));
    }
    const intents = summary.intents || [];
    parts.push(el('p', { testid: 'summary-intents' }, el('strong', { text: 'Intents: ' }),
      intents.length ? intents.map((i) => el('span', { class: 'chip', text: i })) : 'none'));
    const slots = Object.entries(summary.slots || {});
    if (slots.length) {
      parts.push(el('p', {}, el('strong', { text: 'Slots: ' }),
        slots.map(([k, v]) => el('span', { class: 'chip', text: `${k} = ${typeof v === 'string' ? v : JSON.stringify(v)}` }))));
    }
    const articles = summary.articles_tried || [];
    parts.push(el('div', { testid: 'summary-articles' }, el('strong', { text: 'Articles tried: ' }),
      articles.length ? el('ul', {}, articles.map((a) => el('li', {
        text: `${a.id}${a.version ? ` v${a.version}` : ''}${a.title ? ` \u2014 ${a.title}` : ''}${a.decision ? ` (${DECISIONS[a.decision] || a.decision})` : ''}` })))
        : 'none'));
    $('summary').replaceChildren(...parts);
  }

  function renderPrevious(tickets) {
    $('previous').replaceChildren(...(tickets.length ? tickets.map((t) =>
      el('li', { testid: 'previous-ticket' },
        el('button', { type: 'button', class: 'btn-link', text: t.ref, onclick: () => openTicket(t.ref, t.customer_id) }),
        ` ${t.status} · ${reasonText(t)} · ${clock(t.created_at)}${t.agent ? ` · ${t.agent}` : ''}${t.csat ? ` · rated ${t.csat}/5` : ''}`))
      : [el('li', { class: 'muted', text: 'None.' })]));
  }

  function renderReplyChannels(customer) {
    const select = $('reply-channel');
    const chosen = select.value;
    const current = state.replyChannel;
    const info = CHANNELS[current] || { label: current || '?' };
    const options = [el('option', { value: '', text: `${info.label} (current channel)` })];
    const seen = new Set();
    for (const identity of customer.identities || []) {
      if (seen.has(identity.channel)) continue;
      seen.add(identity.channel);
      const label = (CHANNELS[identity.channel] || { label: identity.channel }).label;
      options.push(el('option', { value: identity.channel, text: `${label} · ${identity.channel_user_id}` }));
    }
    select.replaceChildren(...options);
    select.value = seen.has(chosen) ? chosen : '';
  }

  function renderTransferOptions() {
    const select = $('transfer-to');
    const chosen = select.value;
    const agents = Object.entries(state.queue.presence || {})
      .filter(([agent]) => agent !== state.me.username).sort();
    const teams = Object.entries(state.queue.teams || {});
    select.replaceChildren(
      el('option', { value: '', text: 'Transfer to…' }),
      el('optgroup', { label: 'Agents' }, agents.map(([agent, status]) =>
        el('option', { value: `agent:${agent}`, text: `${agent} (${status})` }))),
      el('optgroup', { label: 'Teams' }, teams.map(([id, name]) =>
        el('option', { value: `team:${id}`, text: name }))));
    select.value = [...select.options].some((o) => o.value === chosen) ? chosen : '';
  }

  // -- actions on the open conversation -------------------------------------------------------

  async function act(action, body, done) {
    const ref = state.current.ticket.ref;
    try {
      const result = await api('POST', ticketPath(ref, action), body);
      if (done) done(result);
    } catch (error) {
      flash(`${ref}: ${error.message}`, 'error');
    }
    scheduleQueueRefresh();
    scheduleDetailRefresh();
  }

  $('claim').addEventListener('click', () => claim(state.current.ticket.ref));
  $('release').addEventListener('click', () =>
    act('release', undefined, () => flash(`${state.current.ticket.ref} is back in the queue.`, 'ok')));
  $('resolve').addEventListener('click', () =>
    act('resolve', { csat: $('ask-rating').checked },
      () => flash(`${state.current.ticket.ref} resolved: the assistant has the conversation again.`, 'ok')));
  $('transfer').addEventListener('click', () => {
    const target = $('transfer-to').value;
    if (!target) { flash('Choose an agent or a team to transfer to.', 'error'); return; }
    const [kind, name] = [target.slice(0, target.indexOf(':')), target.slice(target.indexOf(':') + 1)];
    act('transfer', { [kind]: name }, () => flash(`${state.current.ticket.ref} transferred to ${name}.`, 'ok'));
  });

  $('reply-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = $('reply-text').value.trim();
    if (!text || !state.current) return;
    const ref = state.current.ticket.ref;
    const body = { text };
    if ($('reply-channel').value) body.channel = $('reply-channel').value;
    $('reply-send').disabled = true;
    try {
      const entry = await api('POST', ticketPath(ref, 'reply'), body);
      $('reply-text').value = '';
      if (state.current && state.current.ticket.ref === ref) {
        insertEntry(entry);
        if (!state.current.ticket.first_reply_at) scheduleDetailRefresh();
      }
    } catch (error) {
      flash(`Not sent: ${error.message}`, 'error');
    } finally {
      renderControls();
    }
  });

  $('reply-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $('reply-form').requestSubmit();
    }
  });

  $('note-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = $('note-text').value.trim();
    if (!text || !state.current) return;
    const ref = state.current.ticket.ref;
    try {
      const note = await api('POST', ticketPath(ref, 'notes'), { text });
      $('note-text').value = '';
      if (state.current && state.current.ticket.ref === ref) insertNote(note);
    } catch (error) {
      flash(`Note not saved: ${error.message}`, 'error');
    }
  });

  let cannedTimer = null;
  let cannedSeq = 0;
  async function searchCanned() {
    const seq = ++cannedSeq;
    const q = $('canned-q').value.trim();
    try {
      // The customer's language first (one entry per language an article has).
      const customer = state.current && state.current.customer;
      const ticket = state.current && state.current.ticket;
      const language = (customer && customer.language) || (ticket && ticket.language) || '';
      const answers = await api('GET', `/api/agent/canned?q=${encodeURIComponent(q)}` +
        `&language=${encodeURIComponent(language)}`);
      if (seq !== cannedSeq) return; // a newer search is on its way
      $('canned').replaceChildren(...(answers.length ? answers.map((a) =>
        el('li', { testid: 'canned-item', data: { id: a.id, language: a.language } },
          el('div', { class: 'canned-head' }, el('strong', { text: a.title }), languageBadge(a.language, 'canned-language'),
            el('button', { type: 'button', class: 'btn btn-small', testid: 'canned-use', text: 'Use',
              'aria-label': `Use \u201C${a.title}\u201D`, onclick: () => useAnswer(a.answer) })),
          cannedPreview(a)))
        : [el('li', { class: 'empty', text: 'No answer matches.' })]));
    } catch (error) {
      if (error.status !== 401) flash(`Search failed: ${error.message}`, 'error');
    }
  }

  // The answer as the customer will see it: the server's rendering of its
  // Markdown (as in the transcript), through the shared allow-list; the raw
  // Markdown only if the server sent no HTML.
  function cannedPreview(answer) {
    const preview = el('div', { class: 'snippet', testid: 'canned-preview' });
    if (answer.html) preview.append(sanitize(answer.html));
    else preview.textContent = answer.answer;
    if (answer.answer.length > 240) preview.classList.add('clipped');
    return preview;
  }

  function useAnswer(answer) {
    const box = $('reply-text');
    box.value = box.value.trim() ? `${box.value.trimEnd()}\n\n${answer}` : answer;
    box.focus();
  }

  $('canned-q').addEventListener('input', () => {
    clearTimeout(cannedTimer);
    cannedTimer = setTimeout(searchCanned, 200);
  });

  $('team-filter').addEventListener('change', () => renderQueue(state.queue));

  $('presence').addEventListener('change', () => {
    const status = $('presence').value;
    if (status !== 'online' && status !== 'away') return;
    state.presence = status;
    send({ type: 'presence', status });
    flash(status === 'away' ? 'You are away: no returning customers are routed to you.' : 'You are online.', 'info');
  });

  // -- the socket -------------------------------------------------------------------------------

  function send(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function setConnected(connected) {
    const node = $('connection');
    node.textContent = connected ? 'live' : 'offline';
    node.className = `badge conn ${connected ? 'badge-ok conn-live' : 'badge-danger conn-offline'}`;
    const select = $('presence');
    select.disabled = !connected;
    select.value = connected ? state.presence : 'offline';
    root.classList.toggle('offline', !connected);
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/agent/ws`);
    state.socket = socket;
    socket.addEventListener('message', (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch (_) { return; }
      onFrame(frame);
    });
    socket.addEventListener('close', (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      clearInterval(state.pinger);
      setConnected(false);
      if (event.code === 4401) { toLogin(); return; }
      setTimeout(connect, state.backoff);
      state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_MS);
    });
  }

  function onFrame(frame) {
    switch (frame.type) {
      case 'hello':
        state.backoff = 1000;
        state.me = frame.me;
        setConnected(true);
        if (state.presence !== 'online') send({ type: 'presence', status: state.presence });
        clearInterval(state.pinger);
        state.pinger = setInterval(() => send({ type: 'ping' }), PING_EVERY_MS);
        renderQueue(frame.queue);
        if (state.current) { // after a reconnect: watch again and catch up
          watch(state.current.ticket.customer_id);
          scheduleDetailRefresh();
        } else if (location.hash.length > 1) {
          openTicket(decodeURIComponent(location.hash.slice(1)));
        }
        break;
      case 'entry':
        if (state.current && frame.customer_id === state.current.ticket.customer_id) {
          insertEntry(frame.entry);
          if (frame.entry.author === 'customer' && frame.entry.channel !== state.replyChannel) {
            state.replyChannel = frame.entry.channel; // replies follow the customer
            state.current.customer.last_channel = frame.entry.channel;
            renderReplyChannels(state.current.customer);
            renderProfile(state.current.customer);
          }
        }
        break;
      case 'presence':
        if (state.queue.presence) state.queue.presence[frame.agent] = frame.status;
        renderTransferOptions();
        break;
      case 'ticket.note':
        if (state.current && frame.ticket && frame.ticket.ref === state.current.ticket.ref && frame.note) {
          insertNote(frame.note);
        }
        break;
      default:
        if (String(frame.type).startsWith('ticket.')) {
          scheduleQueueRefresh();
          if (state.current && frame.ticket && frame.ticket.ref === state.current.ticket.ref) {
            scheduleDetailRefresh();
          }
        }
    }
  }

  // -- keyboard ---------------------------------------------------------------------------------

  // The shortcuts list is a native <dialog>: modal, focus inside, Esc closes it,
  // focus goes back to what opened it.
  const shortcuts = $('shortcuts');
  let shortcutsOpener = null;
  function showShortcuts() {
    if (shortcuts.open) return;
    shortcutsOpener = document.activeElement;
    shortcuts.showModal();
  }
  shortcuts.addEventListener('close', () => {
    if (shortcutsOpener && shortcutsOpener.focus) shortcutsOpener.focus();
  });
  $('shortcuts-open').addEventListener('click', showShortcuts);

  function typing(target) {
    return target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || shortcuts.open) return;
    if (event.key === '?') {
      event.preventDefault();
      showShortcuts();
    } else if (event.key === '/' && !$('conversation').hidden) {
      event.preventDefault();
      $('canned-q').focus();
    }
  });

  setInterval(tick, 1000);
  setConnected(false);
  connect();
  searchCanned();
})();
