/*
 * The knowledge editor's "Suggested topics" panel (knowledge/templates/topics.html):
 * up to four published articles the web chat greeting offers a new customer.
 * Reads and writes /api/kb/topics; text is set with textContent only.
 */
(() => {
  'use strict';

  const { el } = globalThis.FrontDoorDom;
  const HEADERS = { 'X-Requested-With': 'frontdoor' };
  const SLOTS = 4;

  function $(id) { return document.getElementById(id); }

  async function call(method, path, body) {
    const opts = { method: method, credentials: 'same-origin', headers: Object.assign({}, HEADERS) };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const response = await fetch(path, opts);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, data: data };
  }

  function say(text, ok) {
    const status = $('kb-topics-status');
    status.replaceChildren(el('p', { class: 'toast ' + (ok ? 'toast-ok' : 'toast-error'), text: text }));
  }

  function show(view, articles) {
    $('kb-topics-source').textContent = view.source === 'editors' ? 'chosen by editors' : 'most asked';
    const slots = $('kb-topics-slots');
    slots.replaceChildren();
    const shown = view.topics.map((t) => { return t.id; });
    for (let i = 0; i < SLOTS; i++) {
      const select = el('select', { class: 'input', 'aria-label': 'Topic ' + (i + 1), testid: 'kb-topic-slot' },
        el('option', { value: '', text: '— none —' }),
        articles.map((a) => { return el('option', { value: a.id, text: a.title + ' (' + a.id + ')' }); }));
      select.value = shown[i] || '';
      slots.append(el('li', { class: 'field' }, select));
    }
  }

  async function load() {
    const [view, list] = await Promise.all([
      call('GET', '/api/kb/topics'),
      call('GET', '/api/kb/articles?status=published')
    ]);
    if (!view.ok || !list.ok) {
      say('Could not load the suggested topics.', false);
      return;
    }
    const articles = (list.data.articles || list.data || []).slice()
      .sort((a, b) => { return a.title.localeCompare(b.title); });
    show(view.data, articles);
    $('kb-topics-form').dataset.articles = JSON.stringify(articles.map((a) => { return { id: a.id, title: a.title }; }));
  }

  async function save(ids, done) {
    const result = await call('PUT', '/api/kb/topics', { article_ids: ids });
    if (!result.ok) {
      const detail = result.data && typeof result.data.detail === 'string' ? result.data.detail : 'Not saved.';
      say(detail, false);
      return;
    }
    show(result.data, JSON.parse($('kb-topics-form').dataset.articles || '[]'));
    say(done + ' New web chats show: ' + result.data.topics.map((t) => { return t.title; }).join(', ') + '.', true);
  }

  function init() {
    if (!$('kb-topics')) return;
    $('kb-topics-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const ids = [];
      document.querySelectorAll('#kb-topics-slots select').forEach((s) => {
        if (s.value && ids.indexOf(s.value) < 0) ids.push(s.value);
      });
      save(ids, 'Topics saved.');
    });
    $('kb-topics-auto').addEventListener('click', () => { save([], 'Back to the most asked.'); });
    load();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
