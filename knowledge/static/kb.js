/*
 * Front Door knowledge editor. Plain JavaScript, no dependencies, no build step.
 *
 * Everything shown comes from /api/kb. Text is always set with textContent.
 * The channel previews are HTML the server rendered from escaped Markdown; they
 * are parsed with DOMParser (an inert document: nothing loads or runs) and
 * rebuilt element by element through an allow-list, never assigned as markup.
 */
(function () {
  'use strict';

  var CHANNELS = ['web', 'telegram', 'slack', 'sms'];
  var HEADERS = { 'X-Requested-With': 'frontdoor' };

  var state = {
    article: null,       // the article as last loaded or saved (null: a new one)
    resolves: [],        // unanswered entry ids a new article is started from
    previewChannel: 'web',
    preview: null,
    idTouched: false,
    dirty: false,
    latestConflict: null
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, opts, children) {
    var node = document.createElement(tag);
    opts = opts || {};
    if (opts.text !== undefined) node.textContent = String(opts.text);
    if (opts.cls) node.className = opts.cls;
    if (opts.testid) node.setAttribute('data-testid', opts.testid);
    if (opts.title) node.title = opts.title;
    if (opts.type) node.type = opts.type;
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  async function api(method, path, body, isForm) {
    var opts = { method: method, credentials: 'same-origin', headers: Object.assign({}, HEADERS) };
    if (body !== undefined) {
      if (isForm) {
        opts.body = body;
      } else {
        opts.headers['Content-Type'] = 'application/json';
        opts.body = JSON.stringify(body);
      }
    }
    var response = await fetch(path, opts);
    if (response.status === 401) {
      window.location.href = '/login?next=' + encodeURIComponent('/kb');
      throw new Error('signed out');
    }
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }

  /** A readable sentence from any error body (ours: a string; FastAPI's: a list). */
  function errorText(data, fallback) {
    if (!data || data.detail === undefined) return fallback || 'Something went wrong.';
    if (typeof data.detail === 'string') return data.detail;
    if (Array.isArray(data.detail)) {
      return data.detail.map(function (e) {
        var where = (e.loc || []).filter(function (p) { return p !== 'body'; }).join('.');
        return (where ? where + ': ' : '') + String(e.msg || '').replace(/^Value error, /, '');
      }).join('; ');
    }
    return fallback || 'Something went wrong.';
  }

  function when(ts) {
    return new Date(ts * 1000).toLocaleString();
  }

  // ---------------------------------------------------------------------------
  // Safe rendering of server-rendered preview HTML
  // ---------------------------------------------------------------------------

  var ALLOWED = {
    P: 1, BR: 1, STRONG: 1, B: 1, EM: 1, I: 1, U: 1, S: 1, DEL: 1, STRIKE: 1, CODE: 1, PRE: 1,
    UL: 1, OL: 1, LI: 1, BLOCKQUOTE: 1, H1: 1, H2: 1, H3: 1, H4: 1, H5: 1, H6: 1, HR: 1, A: 1,
    TABLE: 1, THEAD: 1, TBODY: 1, TR: 1, TH: 1, TD: 1, INS: 1
  };

  function safeLink(href) {
    return /^(https?:|mailto:|tel:)/i.test(String(href || '').trim());
  }

  function rebuild(source, target) {
    source.childNodes.forEach(function (node) {
      if (node.nodeType === 3) {
        target.appendChild(document.createTextNode(node.nodeValue));
      } else if (node.nodeType === 1) {
        if (!ALLOWED[node.tagName]) {  // unknown element: keep its text only
          rebuild(node, target);
          return;
        }
        var copy = document.createElement(node.tagName.toLowerCase());
        if (node.tagName === 'A' && safeLink(node.getAttribute('href'))) {
          copy.setAttribute('href', node.getAttribute('href'));
          copy.setAttribute('target', '_blank');
          copy.setAttribute('rel', 'noopener noreferrer');
        }
        if (node.tagName === 'OL' && /^\d+$/.test(node.getAttribute('start') || '')) {
          copy.setAttribute('start', node.getAttribute('start'));
        }
        rebuild(node, copy);
        target.appendChild(copy);
      }
    });
  }

  function safeHtml(html) {
    var doc = new DOMParser().parseFromString(String(html), 'text/html');
    var box = el('div', { cls: 'kb-html' });
    rebuild(doc.body, box);
    return box;
  }

  // ---------------------------------------------------------------------------
  // Tabs
  // ---------------------------------------------------------------------------

  function showTab(name) {
    document.querySelectorAll('.kb-tabs button').forEach(function (b) {
      b.classList.toggle('active', b.getAttribute('data-tab') === name);
    });
    document.querySelectorAll('.kb-tab').forEach(function (s) {
      s.hidden = s.id !== 'tab-' + name;
    });
    if (name === 'unanswered') loadUnanswered();
  }

  // ---------------------------------------------------------------------------
  // Article list
  // ---------------------------------------------------------------------------

  var searchTimer = null;

  async function loadList() {
    var q = $('kb-search').value;
    var status = $('kb-status-filter').value;
    var r = await api('GET', '/api/kb/articles?q=' + encodeURIComponent(q) +
                             '&status=' + encodeURIComponent(status));
    var list = $('kb-articles');
    clear(list);
    if (!r.ok) {
      list.appendChild(el('li', { text: errorText(r.data), cls: 'error' }));
      return;
    }
    $('kb-count').textContent = r.data.articles.length + ' article' +
      (r.data.articles.length === 1 ? '' : 's');
    r.data.articles.forEach(function (a) {
      var item = el('li', { testid: 'kb-article' }, [
        el('span', { text: a.title, cls: 'kb-title' }),
        el('span', { text: a.status, cls: 'badge status-' + a.status }),
        el('span', { text: a.id + ' · v' + a.version, cls: 'kb-muted kb-small' })
      ]);
      item.setAttribute('data-id', a.id);
      item.tabIndex = 0;
      if (state.article && state.article.id === a.id) item.classList.add('selected');
      item.addEventListener('click', function () { openArticle(a.id); });
      item.addEventListener('keydown', function (e) { if (e.key === 'Enter') openArticle(a.id); });
      list.appendChild(item);
    });
  }

  function confirmDiscard() {
    return !state.dirty || window.confirm('Discard your unsaved changes?');
  }

  // ---------------------------------------------------------------------------
  // The form
  // ---------------------------------------------------------------------------

  function message(text, kind) {
    var box = $('kb-message');
    box.textContent = text || '';
    box.className = 'kb-message ' + (kind || 'info');
    box.hidden = !text;
  }

  function fillForm(a) {
    $('f-id').value = a ? a.id : '';
    $('f-id').readOnly = !!a;
    $('f-title').value = a ? a.title : '';
    $('f-questions').value = a ? a.questions.join('\n') : '';
    $('f-answer').value = a ? a.answer : '';
    CHANNELS.forEach(function (c) {
      $('f-ch-' + c).value = (a && a.channels[c]) || '';
    });
    $('f-channels').open = !!(a && Object.keys(a.channels).length);
    $('f-tags').value = a ? a.tags.join(', ') : '';
    $('f-language').value = a ? a.language : 'en';
    $('f-status').value = a ? a.status : 'draft';
    $('f-version').textContent = a
      ? 'version ' + a.version + ' · saved ' + when(a.updated_at) + ' by ' + a.updated_by
      : 'new article';
    $('kb-form').hidden = false;
    $('kb-empty').hidden = true;
    $('kb-preview').hidden = false;
    $('kb-load-latest').hidden = true;
    state.dirty = false;
    updateSaveLabel();
  }

  function formPayload() {
    var channels = {};
    CHANNELS.forEach(function (c) {
      var v = $('f-ch-' + c).value;
      if (v.trim()) channels[c] = v;
    });
    return {
      title: $('f-title').value,
      questions: $('f-questions').value.split('\n').filter(function (q) { return q.trim(); }),
      answer: $('f-answer').value,
      channels: channels,
      tags: $('f-tags').value.split(',').map(function (t) { return t.trim(); })
        .filter(function (t) { return t; }),
      language: $('f-language').value.trim() || 'en',
      status: $('f-status').value
    };
  }

  function updateSaveLabel() {
    var status = $('f-status').value;
    $('kb-save').textContent = status === 'published' ? 'Save and publish' : 'Save as ' + status;
    var wasLive = state.article && state.article.status === 'published';
    $('kb-save-hint').textContent =
      status === 'published' ? 'Customers see it on every channel at once.' :
      (wasLive ? 'This takes the article off every channel.' : 'Customers will not see it.');
  }

  function slugify(title) {
    return title.toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
      .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80).replace(/-+$/, '');
  }

  async function openArticle(id) {
    if (!confirmDiscard()) return;
    var r = await api('GET', '/api/kb/articles/' + encodeURIComponent(id));
    if (!r.ok) { message(errorText(r.data), 'error'); return; }
    state.article = r.data;
    state.resolves = [];
    fillForm(r.data);
    message('');
    document.querySelectorAll('#kb-articles li').forEach(function (li) {
      li.classList.toggle('selected', li.getAttribute('data-id') === id);
    });
    schedulePreview(0);
    loadHistory();
  }

  function newArticle(prefill, resolves) {
    if (!confirmDiscard()) return;
    state.article = null;
    state.resolves = resolves || [];
    state.idTouched = false;
    fillForm(null);
    if (prefill) {
      $('f-title').value = prefill.title || '';
      $('f-questions').value = (prefill.questions || []).join('\n');
      $('f-id').value = slugify(prefill.title || '');
      state.dirty = true;
    }
    message(prefill ? 'A new article from ' + (prefill.questions || []).length +
      ' customer question(s): write the answer, then save.' : '');
    $('kb-history').hidden = true;
    showTab('articles');
    $('f-title').focus();
    schedulePreview(0);
  }

  async function save(event) {
    event.preventDefault();
    var body = formPayload();
    var r;
    if (state.article) {
      body.expected_version = state.article.version;
      r = await api('PUT', '/api/kb/articles/' + encodeURIComponent(state.article.id), body);
    } else {
      body.id = $('f-id').value.trim();
      body.resolves = state.resolves;
      r = await api('POST', '/api/kb/articles', body);
    }
    if (r.status === 409) {
      state.latestConflict = r.data && r.data.current;
      message(errorText(r.data), 'conflict');
      $('kb-load-latest').hidden = !state.latestConflict;
      return;
    }
    if (!r.ok) {
      message('Not saved: ' + errorText(r.data), 'error');
      return;
    }
    state.article = r.data;
    state.resolves = [];
    fillForm(r.data);
    message('Saved version ' + r.data.version + (r.data.live
      ? ': live on every channel now.' : ' as ' + r.data.status + ': customers do not see it.'),
      'ok');
    loadList();
    loadHistory();
    schedulePreview(0);
  }

  function loadLatest() {
    if (!state.latestConflict) return;
    state.article = state.latestConflict;
    state.latestConflict = null;
    fillForm(state.article);
    message('Loaded version ' + state.article.version + ' by ' + state.article.updated_by + '.',
      'info');
    loadHistory();
    schedulePreview(0);
  }

  // ---------------------------------------------------------------------------
  // Preview
  // ---------------------------------------------------------------------------

  var previewTimer = null;

  function schedulePreview(delay) {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, delay === undefined ? 350 : delay);
  }

  async function runPreview() {
    var body = formPayload();
    var r = await api('POST', '/api/kb/preview', { answer: body.answer, channels: body.channels });
    state.preview = r.ok ? r.data : null;
    renderPreview(r.ok ? null : errorText(r.data));
  }

  function renderPreview(error) {
    var box = $('kb-preview-body');
    clear(box);
    document.querySelectorAll('.kb-chtabs button').forEach(function (b) {
      b.classList.toggle('active', b.getAttribute('data-channel') === state.previewChannel);
      var p = state.preview && state.preview[b.getAttribute('data-channel')];
      var worst = p ? p.checks.reduce(function (w, c) {
        return c.level === 'error' ? 'error' : (c.level === 'warn' && w !== 'error' ? 'warn' : w);
      }, 'ok') : 'ok';
      b.setAttribute('data-level', worst);
    });
    if (error) { box.appendChild(el('p', { text: error, cls: 'error' })); return; }
    var p = state.preview && state.preview[state.previewChannel];
    if (!p) { box.appendChild(el('p', { text: 'Write an answer to see it here.', cls: 'kb-muted' })); return; }
    box.appendChild(el('p', { cls: 'kb-muted', testid: 'preview-summary',
      text: p.summary + ' · from the ' + p.source }));
    var checks = el('ul', { cls: 'kb-checks', testid: 'preview-checks' });
    p.checks.forEach(function (c) {
      checks.appendChild(el('li', { cls: 'check-' + c.level, text: c.text }));
    });
    box.appendChild(checks);
    var phone = el('div', { cls: 'kb-bubbles channel-' + p.channel });
    p.messages.forEach(function (m) {
      var bubble = el('div', { cls: 'kb-bubble', testid: 'preview-message' });
      bubble.appendChild(m.format === 'html' ? safeHtml(m.content)
                                             : el('div', { cls: 'kb-plain', text: m.content }));
      if (m.note) bubble.appendChild(el('div', { cls: 'kb-note', text: m.note }));
      phone.appendChild(bubble);
    });
    box.appendChild(phone);
    var raw = el('details', {}, [el('summary', { text: 'What is sent' }),
                                 el('pre', { cls: 'kb-raw', text: p.raw })]);
    box.appendChild(raw);
  }

  // ---------------------------------------------------------------------------
  // History, diff, rollback
  // ---------------------------------------------------------------------------

  async function loadHistory() {
    if (!state.article) { $('kb-history').hidden = true; return; }
    var id = state.article.id;
    var r = await api('GET', '/api/kb/articles/' + encodeURIComponent(id) + '/versions');
    var list = $('kb-versions');
    clear(list);
    clear($('kb-diff'));
    $('kb-history').hidden = false;
    if (!r.ok) { list.appendChild(el('li', { text: errorText(r.data), cls: 'error' })); return; }
    r.data.versions.forEach(function (v) {
      var isCurrent = v.version === r.data.current;
      var item = el('li', { testid: 'kb-version-row' }, [
        el('strong', { text: 'v' + v.version + (isCurrent ? ' (current)' : '') }),
        el('span', { text: ' · ' + when(v.updated_at) + ' · ' + v.updated_by + ' · ' + v.status }),
        el('span', { cls: 'kb-muted', text: ' · ' + v.changed.join(', ') })
      ]);
      item.setAttribute('data-version', v.version);
      var diffButton = el('button', { type: 'button', text: 'Changes', testid: 'kb-diff-button' });
      diffButton.addEventListener('click', function () { showDiff(id, v.version); });
      item.appendChild(diffButton);
      if (!isCurrent) {
        var back = el('button', { type: 'button', text: 'Roll back to v' + v.version,
                                  testid: 'kb-rollback-button' });
        back.addEventListener('click', function () { rollback(id, v.version); });
        item.appendChild(back);
      }
      list.appendChild(item);
    });
  }

  async function showDiff(id, version) {
    var r = await api('GET', '/api/kb/articles/' + encodeURIComponent(id) +
                             '/diff?to_version=' + version);
    var box = $('kb-diff');
    clear(box);
    if (!r.ok) { box.appendChild(el('p', { text: errorText(r.data), cls: 'error' })); return; }
    if (r.data.created) {
      box.appendChild(el('p', { text: 'Version ' + version + ' created the article.' }));
      return;
    }
    box.appendChild(el('h3', { text: 'v' + r.data.from_version + ' → v' + r.data.to_version }));
    if (!r.data.fields.length) box.appendChild(el('p', { text: 'No content changed.' }));
    r.data.fields.forEach(function (f) {
      var pre = el('pre', { cls: 'kb-difflines' });
      f.lines.forEach(function (line) {
        var cls = line.op === '+' ? 'add' : (line.op === '-' ? 'del' : (line.op === '@' ? 'hunk' : 'same'));
        pre.appendChild(el('span', { cls: cls, text: (line.op === '@' ? '' : line.op + ' ') + line.text + '\n' }));
      });
      box.appendChild(el('div', { cls: 'kb-field-diff', testid: 'kb-field-diff' },
                         [el('h4', { text: f.field }), pre]));
    });
  }

  async function rollback(id, version) {
    if (!confirmDiscard()) return;
    var r = await api('POST', '/api/kb/articles/' + encodeURIComponent(id) + '/rollback',
                      { version: version, expected_version: state.article.version });
    if (r.status === 409) {
      state.latestConflict = r.data && r.data.current;
      message(errorText(r.data), 'conflict');
      $('kb-load-latest').hidden = !state.latestConflict;
      return;
    }
    if (!r.ok) { message(errorText(r.data), 'error'); return; }
    state.article = r.data;
    fillForm(r.data);
    message('Rolled back: version ' + r.data.version + ' has the content of version ' + version +
            (r.data.live ? ' and is live on every channel.' : '.'), 'ok');
    loadList();
    loadHistory();
    schedulePreview(0);
  }

  // ---------------------------------------------------------------------------
  // Try a question
  // ---------------------------------------------------------------------------

  async function tryQuestion(event) {
    event.preventDefault();
    var q = $('kb-try-q').value.trim();
    var box = $('kb-try-result');
    clear(box);
    if (!q) return;
    var wait = setTimeout(function () {
      box.appendChild(el('p', { cls: 'kb-muted', text: 'Loading the language model (first time only)…' }));
    }, 800);
    var r = await api('POST', '/api/kb/try', { question: q, channel: $('kb-try-channel').value });
    clearTimeout(wait);
    clear(box);
    if (!r.ok) { box.appendChild(el('p', { text: errorText(r.data), cls: 'error' })); return; }
    var d = r.data;
    var words = { answer: 'Answer', clarify: 'Clarify (offer buttons)', fallback: 'Fall back' };
    box.appendChild(el('p', {}, [
      el('span', { cls: 'badge decision-' + d.decision, testid: 'kb-try-decision',
                   text: words[d.decision] || d.decision }),
      el('span', { cls: 'kb-muted', text: d.article ? ' with ' + d.article.title + ' (v' + d.article.version + ')' : '' })
    ]));
    box.appendChild(el('p', { cls: 'kb-muted kb-small', text: 'answer ≥ ' + d.thresholds.answer +
      ', clarify ≥ ' + d.thresholds.clarify + ', runner-up margin ' + d.thresholds.margin }));
    var table = el('table', { cls: 'kb-matches', testid: 'kb-try-matches' });
    table.appendChild(el('tr', {}, [el('th', { text: 'Article' }), el('th', { text: 'Score' }),
                                    el('th', { text: 'Closest variant' })]));
    d.matches.forEach(function (m) {
      var title = el('a', { text: m.title });
      title.href = '#';
      title.addEventListener('click', function (e) { e.preventDefault(); openArticle(m.article_id); });
      var bar = el('span', { cls: 'kb-bar' });
      bar.appendChild(el('span', { cls: 'kb-bar-fill' }));
      bar.firstChild.style.width = Math.max(0, Math.round(m.score * 100)) + '%';
      table.appendChild(el('tr', { testid: 'kb-try-match' }, [
        el('td', {}, [title]),
        el('td', {}, [el('span', { text: m.score.toFixed(3) }), bar]),
        el('td', { text: m.question })
      ]));
    });
    box.appendChild(table);
    box.appendChild(el('p', { cls: 'kb-muted', text: 'The assistant would say:' }));
    var phone = el('div', { cls: 'kb-bubbles channel-' + d.reply.preview.channel });
    d.reply.preview.messages.forEach(function (m) {
      phone.appendChild(el('div', { cls: 'kb-bubble' }, [m.format === 'html'
        ? safeHtml(m.content) : el('div', { cls: 'kb-plain', text: m.content })]));
    });
    var buttons = el('div', { cls: 'kb-row', testid: 'kb-try-buttons' });
    d.reply.buttons.forEach(function (b) { buttons.appendChild(el('span', { cls: 'badge', text: b })); });
    phone.appendChild(buttons);
    box.appendChild(phone);
  }

  // ---------------------------------------------------------------------------
  // Unanswered questions
  // ---------------------------------------------------------------------------

  async function loadUnanswered() {
    var box = $('kb-groups');
    clear(box);
    box.appendChild(el('p', { cls: 'kb-muted', text: 'Grouping questions…' }));
    var r = await api('GET', '/api/kb/unanswered');
    var articles = await api('GET', '/api/kb/articles');
    clear(box);
    if (!r.ok) { box.appendChild(el('p', { text: errorText(r.data), cls: 'error' })); return; }
    if (!r.data.groups.length) {
      box.appendChild(el('p', { testid: 'kb-groups-empty', text: 'No unanswered questions. 🎉' }));
      return;
    }
    r.data.groups.forEach(function (g) { box.appendChild(groupCard(g, articles.data.articles)); });
  }

  function groupCard(g, articles) {
    var card = el('div', { cls: 'kb-group', testid: 'kb-group' });
    var outcomes = Object.keys(g.outcomes).map(function (k) { return g.outcomes[k] + ' ' + k; }).join(', ');
    var channels = Object.keys(g.channels).join(', ');
    card.appendChild(el('h3', {}, [el('span', { text: g.label, testid: 'kb-group-label' }),
      el('span', { cls: 'badge', text: '× ' + g.count, testid: 'kb-group-count' })]));
    card.appendChild(el('p', { cls: 'kb-muted kb-small',
      text: outcomes + ' · ' + channels + ' · last ' + when(g.last_seen) }));
    var list = el('ul', { cls: 'kb-queries' });
    var boxes = [];
    g.queries.forEach(function (q) {
      var check = el('input', { type: 'checkbox' });
      check.checked = true;
      check.value = q.text;
      boxes.push(check);
      list.appendChild(el('li', {}, [el('label', {}, [check,
        el('span', { text: ' ' + q.text + (q.count > 1 ? ' (×' + q.count + ')' : '') })])]));
    });
    card.appendChild(list);
    function chosen() {
      return boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    }
    var select = el('select', { testid: 'kb-group-article' });
    articles.forEach(function (a) {
      var o = el('option', { text: a.title + ' (' + a.status + ')' });
      o.value = a.id;
      select.appendChild(o);
    });
    if (g.suggestion) select.value = g.suggestion.article_id;
    var add = el('button', { type: 'button', text: 'Add as variants', testid: 'kb-group-add' });
    add.addEventListener('click', async function () {
      var target = await api('GET', '/api/kb/articles/' + encodeURIComponent(select.value));
      if (!target.ok) { note.textContent = errorText(target.data); return; }
      var r = await api('POST', '/api/kb/unanswered/add-variants', {
        article_id: select.value, expected_version: target.data.version,
        queries: chosen(), entry_ids: g.entry_ids });
      if (!r.ok) { note.textContent = errorText(r.data); note.className = 'error'; return; }
      note.textContent = 'Added to "' + r.data.title + '" (version ' + r.data.version + ').';
      note.className = 'ok';
      setTimeout(loadUnanswered, 800);
      loadList();
    });
    var start = el('button', { type: 'button', text: 'New article from these', testid: 'kb-group-new' });
    start.addEventListener('click', function () {
      newArticle({ title: g.label, questions: chosen() }, g.entry_ids);
    });
    var dismiss = el('button', { type: 'button', text: 'Dismiss', testid: 'kb-group-dismiss' });
    dismiss.addEventListener('click', async function () {
      var r = await api('POST', '/api/kb/unanswered/dismiss', { entry_ids: g.entry_ids });
      if (r.ok) card.remove(); else note.textContent = errorText(r.data);
    });
    var note = el('p', { testid: 'kb-group-note' });
    card.appendChild(el('div', { cls: 'kb-row' }, [
      el('span', { text: g.suggestion ? 'Closest article:' : 'Article:' }), select, add, start, dismiss]));
    card.appendChild(note);
    return card;
  }

  // ---------------------------------------------------------------------------
  // Import
  // ---------------------------------------------------------------------------

  async function importFile(dryRun) {
    var box = $('kb-import-result');
    clear(box);
    var file = $('kb-import-file').files[0];
    if (!file) { box.appendChild(el('p', { cls: 'error', text: 'Choose a file first.' })); return; }
    var form = new FormData();
    form.append('file', file);
    var r = await api('POST', '/api/kb/import?dry_run=' + (dryRun ? 'true' : 'false'), form, true);
    if (!r.ok) {
      box.appendChild(el('p', { cls: 'error', text: errorText(r.data) }));
      var problems = el('ul', { testid: 'import-problems' });
      ((r.data && r.data.problems) || []).forEach(function (p) { problems.appendChild(el('li', { text: p })); });
      box.appendChild(problems);
      return;
    }
    var d = r.data;
    box.appendChild(el('p', { cls: 'ok', text: (dryRun ? 'Check passed: would create ' : 'Imported: created ') +
      d.created.length + ', ' + (dryRun ? 'update ' : 'updated ') + d.updated.length + ', unchanged ' +
      d.unchanged.length + '.' }));
    [['created', d.created], ['updated', d.updated]].forEach(function (pair) {
      if (pair[1].length) box.appendChild(el('p', { cls: 'kb-small', text: pair[0] + ': ' + pair[1].join(', ') }));
    });
    if (!dryRun) loadList();
  }

  // ---------------------------------------------------------------------------
  // Wiring
  // ---------------------------------------------------------------------------

  function start() {
    document.querySelectorAll('.kb-tabs button').forEach(function (b) {
      b.addEventListener('click', function () { showTab(b.getAttribute('data-tab')); });
    });
    $('kb-search').addEventListener('input', function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(loadList, 200);
    });
    $('kb-status-filter').addEventListener('change', loadList);
    $('kb-new').addEventListener('click', function () { newArticle(null, []); });
    $('kb-form').addEventListener('submit', save);
    $('kb-form').addEventListener('input', function (e) {
      state.dirty = true;
      if (e.target.id === 'f-id') state.idTouched = true;
      if (e.target.id === 'f-title' && !state.article && !state.idTouched) {
        $('f-id').value = slugify($('f-title').value);
      }
      if (e.target.id === 'f-answer' || e.target.id.indexOf('f-ch-') === 0) schedulePreview();
    });
    $('f-status').addEventListener('change', updateSaveLabel);
    $('kb-load-latest').addEventListener('click', loadLatest);
    document.querySelectorAll('.kb-chtabs button').forEach(function (b) {
      b.addEventListener('click', function () {
        state.previewChannel = b.getAttribute('data-channel');
        renderPreview();
      });
    });
    $('kb-try-form').addEventListener('submit', tryQuestion);
    $('kb-unanswered-refresh').addEventListener('click', loadUnanswered);
    $('kb-import-form').addEventListener('submit', function (e) { e.preventDefault(); importFile(false); });
    $('kb-import-check').addEventListener('click', function () { importFile(true); });
    window.addEventListener('beforeunload', function (e) {
      if (state.dirty) { e.preventDefault(); e.returnValue = ''; }
    });
    loadList();
    api('POST', '/api/kb/warm-up', {});  // load the language model while the editor reads
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
