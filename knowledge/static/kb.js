/*
 * Front Door knowledge editor. Plain JavaScript, no build step; uses the shared
 * core/static scripts (dom.js, safe-html.js), loaded before it.
 *
 * Everything shown comes from /api/kb. Text is always set with textContent.
 * The channel previews are HTML the server rendered from escaped Markdown; they
 * go through the shared allow-list (core/static/safe-html.js), never assigned
 * as markup.
 */
(() => {
  'use strict';

  const { el } = globalThis.FrontDoorDom;
  const { sanitize } = globalThis.FrontDoorSafeHtml;

  const CHANNELS = ['web', 'telegram', 'slack', 'sms'];
  const LANGUAGES = ['en', 'de'];  // the languages customers are answered in (core/i18n.py)
  const LANGUAGE_NAMES = { en: 'English', de: 'German' };
  const HEADERS = { 'X-Requested-With': 'frontdoor' };

  const STATUS_BADGES = { published: 'badge-ok', draft: 'badge-warn', archived: 'badge-muted' };

  const state = {
    article: null,       // the article as last loaded or saved (null: a new one)
    resolves: [],        // unanswered entry ids a new article is started from
    previewChannel: 'web',
    previewLanguage: null, // null: the main language
    preview: null,
    idTouched: false,
    dirty: false,
    latestConflict: null
  };

  function $(id) { return document.getElementById(id); }

  async function api(method, path, body, isForm) {
    const opts = { method: method, credentials: 'same-origin', headers: Object.assign({}, HEADERS) };
    if (body !== undefined) {
      if (isForm) {
        opts.body = body;
      } else {
        opts.headers['Content-Type'] = 'application/json';
        opts.body = JSON.stringify(body);
      }
    }
    const response = await fetch(path, opts);
    if (response.status === 401) {
      window.location.href = '/login?next=' + encodeURIComponent('/kb');
      throw new Error('signed out');
    }
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { ok: response.ok, status: response.status, data: data };
  }

  /** A readable sentence from any error body (ours: a string; FastAPI's: a list). */
  function errorText(data, fallback) {
    if (!data || data.detail === undefined) return fallback || 'Something went wrong.';
    if (typeof data.detail === 'string') return data.detail;
    if (Array.isArray(data.detail)) {
      return data.detail.map((e) => {
        const where = (e.loc || []).filter((p) => { return p !== 'body'; }).join('.');
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

  function safeHtml(html) {
    return el('div', { class: 'kb-html' }, sanitize(html));
  }

  // ---------------------------------------------------------------------------
  // Toasts, marked text, the confirmation dialog
  // ---------------------------------------------------------------------------

  /** A notice in the page's role="status" region: read out, gone after a while. */
  function toast(text, kind) {
    const note = el('div', { class: 'toast toast-' + (kind || 'ok'), testid: 'kb-toast', text: text });
    $('kb-toasts').appendChild(note);
    setTimeout(() => { note.remove(); }, 8000);
  }

  /** `text` with the [start, end) ranges in `marks` as <mark>: text nodes only. */
  function markedText(text, marks) {
    const nodes = [];
    let at = 0;
    (marks || []).forEach((m) => {
      if (m[0] > at) nodes.push(text.slice(at, m[0]));
      nodes.push(el('mark', { text: text.slice(m[0], m[1]) }));
      at = m[1];
    });
    if (at < text.length) nodes.push(text.slice(at));
    return nodes;
  }

  /** Word-level diff segments as text with <ins> and <del>. */
  function segments(list) {
    return el('div', { class: 'kb-words', testid: 'kb-words' }, list.map((seg) => {
      if (seg.op === 'add') return el('ins', { text: seg.text });
      if (seg.op === 'del') return el('del', { text: seg.text });
      return seg.text;
    }));
  }

  const STATES = { added: 'added', removed: 'removed', changed: 'changed' };

  /** The rendered diff of an article (the server's `rendered` / `diff`). */
  function renderedDiff(diff) {
    const box = el('div', { class: 'kb-rendered', testid: 'kb-rendered-diff' });
    diff.languages.forEach((lang) => {
      const part = el('div', { class: 'kb-lang-diff', testid: 'kb-lang-diff' });
      part.setAttribute('data-lang', lang.language);
      part.appendChild(el('h4', {}, [languageName(lang.language) + ' ',
        el('span', { class: 'badge ' + (lang.state === 'added' ? 'badge-ok' : lang.state === 'removed'
          ? 'badge-danger' : 'badge-info'), text: STATES[lang.state] || lang.state })]));
      if (lang.title) part.appendChild(el('div', { class: 'kb-diff-part' }, [
        el('span', { class: 'kb-diff-label', text: 'Title' }), segments(lang.title)]));
      if (lang.questions_added.length || lang.questions_removed.length) {
        const qs = el('ul', { class: 'kb-diff-questions', testid: 'kb-diff-questions' });
        lang.questions_added.forEach((q) => {
          qs.appendChild(el('li', {}, [el('span', { class: 'badge badge-ok', text: 'added' }), ' ',
                                       el('ins', { text: q })]));
        });
        lang.questions_removed.forEach((q) => {
          qs.appendChild(el('li', {}, [el('span', { class: 'badge badge-danger', text: 'removed' }), ' ',
                                       el('del', { text: q })]));
        });
        part.appendChild(el('div', { class: 'kb-diff-part' }, [
          el('span', { class: 'kb-diff-label', text: 'Question variants' }), qs]));
      }
      if (lang.answer) part.appendChild(el('div', { class: 'kb-diff-part' }, [
        el('span', { class: 'kb-diff-label', text: 'Answer' }), segments(lang.answer)]));
      lang.channels.forEach((c) => {
        part.appendChild(el('div', { class: 'kb-diff-part' }, [
          el('span', { class: 'kb-diff-label', text: c.name + ' variant' }), segments(c.diff)]));
      });
      box.appendChild(part);
    });
    diff.fields.forEach((f) => {
      box.appendChild(el('p', { class: 'kb-diff-part' }, [
        el('span', { class: 'kb-diff-label', text: f.field.charAt(0).toUpperCase() + f.field.slice(1) }),
        el('del', { text: f.before || '(none)' }), ' → ', el('ins', { text: f.after || '(none)' })]));
    });
    return box;
  }

  const KINDS = {
    added: 'goes live',
    changed: 'changes',
    removed: 'is taken off'
  };

  /**
   * Ask before anything goes live: what changes (the article, its languages)
   * and where (every channel, with the SMS warnings). Resolves true only on
   * Confirm; Cancel and Esc resolve false.
   */
  function confirmLive(change, how) {
    const dialog = $('kb-confirm');
    $('kb-confirm-title').textContent = how.title;
    $('kb-confirm-go').textContent = how.go;
    const body = $('kb-confirm-body');
    body.replaceChildren();
    if (change.kind === 'none') {
      body.appendChild(el('p', { testid: 'kb-confirm-what',
        text: 'Customers see no change: "' + change.title + '" is not live before or after.' }));
    } else {
      const langs = change.languages.map((code) => {
        return languageName(code) + ' (' + (change.language_states[code] || 'changed') + ')';
      });
      body.appendChild(el('p', { testid: 'kb-confirm-what' }, [
        el('span', { class: 'badge ' + (change.kind === 'removed' ? 'badge-danger' : 'badge-info'),
                     text: change.kind }), ' ',
        el('strong', { text: change.title }), ' ' + KINDS[change.kind] +
        (change.kind === 'removed' ? ' every channel.' : ' for customers.')]));
      if (langs.length) {
        body.appendChild(el('p', { testid: 'kb-confirm-languages', text: 'Languages: ' + langs.join(', ') + '.' }));
      }
      body.appendChild(el('p', { testid: 'kb-confirm-channels' }, [
        'Where: at once on ', change.channels.map((c, i) => {
          return [i ? (i === change.channels.length - 1 ? ' and ' : ', ') : '',
                  el('span', { class: 'badge badge-muted', text: c })];
        }), '.']));
    }
    if (change.warnings.length) {
      const warnings = el('ul', { class: 'kb-confirm-warnings', testid: 'kb-confirm-warnings' });
      change.warnings.forEach((w) => {
        warnings.appendChild(el('li', {}, [el('span', { class: 'badge badge-warn', text: 'warning' }), ' ' + w]));
      });
      body.appendChild(warnings);
    }
    if (change.kind !== 'none' && (change.diff.languages.length || change.diff.fields.length)) {
      const details = el('details', { class: 'kb-confirm-diff' }, [
        el('summary', { text: 'What changes, word by word' }), renderedDiff(change.diff)]);
      details.open = change.kind === 'changed';
      body.appendChild(details);
    }
    return new Promise((resolve) => {
      dialog.returnValue = '';
      dialog.addEventListener('close', () => { resolve(dialog.returnValue === 'confirm'); }, { once: true });
      dialog.showModal();
    });
  }

  // ---------------------------------------------------------------------------
  // Tabs
  // ---------------------------------------------------------------------------

  function showTab(name) {
    document.querySelectorAll('.kb-tabs button').forEach((b) => {
      b.classList.toggle('active', b.getAttribute('data-tab') === name);
      if (b.getAttribute('data-tab') === name) b.setAttribute('aria-current', 'page');
      else b.removeAttribute('aria-current');
    });
    document.querySelectorAll('.kb-tab').forEach((s) => {
      s.hidden = s.id !== 'tab-' + name;
    });
    if (name === 'unanswered') loadUnanswered();
  }

  // ---------------------------------------------------------------------------
  // Article list
  // ---------------------------------------------------------------------------

  let searchTimer = null;

  async function loadList() {
    const q = $('kb-search').value;
    const status = $('kb-status-filter').value;
    const missing = $('kb-missing').checked ? 'de' : '';
    const r = await api('GET', '/api/kb/articles?q=' + encodeURIComponent(q) +
                             '&status=' + encodeURIComponent(status) +
                             '&missing=' + encodeURIComponent(missing));
    const list = $('kb-articles');
    list.replaceChildren();
    if (!r.ok) {
      list.appendChild(el('li', { text: errorText(r.data), class: 'error' }));
      return;
    }
    $('kb-count').textContent = r.data.articles.length + ' article' +
      (r.data.articles.length === 1 ? '' : 's');
    $('kb-missing-count').textContent = String(r.data.missing.de);
    $('kb-missing-count').title = r.data.missing.de + ' articles have no German version';
    r.data.articles.forEach((a) => {
      const langs = a.languages.indexOf('de') < 0
        ? el('span', { text: 'no German', class: 'badge badge-warn kb-nolang', testid: 'kb-no-german' })
        : el('span', { text: a.languages.join(' · ').toUpperCase(), class: 'muted kb-small' });
      const item = el('li', { testid: 'kb-article' }, [
        el('span', { text: a.title, class: 'kb-title' }),
        el('span', { text: a.status, class: 'badge ' + STATUS_BADGES[a.status] + ' status-' + a.status }),
        el('span', { text: a.id + ' · v' + a.version, class: 'muted kb-small' }),
        langs,
        // why it matched the search: each place a search word was found, marked
        a.why.length ? el('div', { class: 'kb-why', testid: 'kb-why' }, a.why.map((w) => {
          return el('div', { class: 'kb-why-line' }, [
            el('span', { class: 'badge badge-muted', text: w.where + (a.languages.length > 1 ? ' · ' + w.language : '') }),
            ' ', el('span', { class: 'kb-snippet', testid: 'kb-snippet' }, markedText(w.text, w.marks))]);
        })) : null
      ]);
      item.setAttribute('data-id', a.id);
      item.tabIndex = 0;
      if (state.article && state.article.id === a.id) item.classList.add('selected');
      item.addEventListener('click', () => { openArticle(a.id); });
      item.addEventListener('keydown', (e) => { if (e.key === 'Enter') openArticle(a.id); });
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
    const box = $('kb-message');
    box.textContent = text || '';
    box.className = 'kb-message ' + (kind || 'info');
    box.hidden = !text;
  }

  /** The language shown beside the main one: German for an English article. */
  function otherLanguage() {
    const main = $('f-language').value.trim() || 'en';
    return LANGUAGES.filter((c) => { return c !== main; })[0];
  }

  function languageName(code) {
    return LANGUAGE_NAMES[code] || code;
  }

  function labelLanguages() {
    const main = $('f-language').value.trim() || 'en';
    const other = otherLanguage();
    $('lang-main-name').textContent = languageName(main) + ' (main language)';
    $('lang-other-name').textContent = languageName(other);
    const missing = !$('t-title').value.trim() && !$('t-questions').value.trim() &&
      !$('t-answer').value.trim();
    $('t-missing').hidden = !missing;
    $('t-missing').textContent = 'No ' + languageName(other) + ' version yet: customers who write ' +
      languageName(other) + ' get the ' + languageName(main) + ' answer, with a note. ' +
      'Write it here (title, question variants and answer).';
    const box = $('kb-preview-langs');
    box.replaceChildren();
    [main, other].forEach((code) => {
      const b = el('button', { type: 'button', text: languageName(code), testid: 'preview-lang-' + code,
                                class: 'btn btn-small' });
      b.setAttribute('data-lang', code);
      b.classList.toggle('active', previewLanguage() === code);
      b.setAttribute('aria-pressed', String(previewLanguage() === code));
      b.addEventListener('click', () => {
        state.previewLanguage = code === main ? null : code;
        labelLanguages();
        schedulePreview(0);
      });
      box.appendChild(b);
    });
  }

  function previewLanguage() {
    const main = $('f-language').value.trim() || 'en';
    return state.previewLanguage === otherLanguage() ? state.previewLanguage : main;
  }

  function fillTranslation(a) {
    const t = a && a.translations ? a.translations[otherLanguage()] : null;
    $('t-title').value = t ? t.title : '';
    $('t-questions').value = t ? t.questions.join('\n') : '';
    $('t-answer').value = t ? t.answer : '';
    CHANNELS.forEach((c) => {
      $('t-ch-' + c).value = (t && t.channels[c]) || '';
    });
    $('t-channels').open = !!(t && Object.keys(t.channels).length);
  }

  function fillForm(a) {
    $('f-id').value = a ? a.id : '';
    $('f-id').readOnly = !!a;
    $('f-title').value = a ? a.title : '';
    $('f-questions').value = a ? a.questions.join('\n') : '';
    $('f-answer').value = a ? a.answer : '';
    CHANNELS.forEach((c) => {
      $('f-ch-' + c).value = (a && a.channels[c]) || '';
    });
    $('f-channels').open = !!(a && Object.keys(a.channels).length);
    $('f-tags').value = a ? a.tags.join(', ') : '';
    $('f-language').value = a ? a.language : 'en';
    fillTranslation(a);
    labelLanguages();
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

  /** The title, questions, answer and channels typed in under prefix "f" or "t". */
  function textPayload(prefix) {
    const channels = {};
    CHANNELS.forEach((c) => {
      const v = $(prefix + '-ch-' + c).value;
      if (v.trim()) channels[c] = v;
    });
    return {
      title: $(prefix + '-title').value,
      questions: $(prefix + '-questions').value.split('\n').filter((q) => { return q.trim(); }),
      answer: $(prefix + '-answer').value,
      channels: channels
    };
  }

  function formPayload() {
    const body = textPayload('f');
    const language = $('f-language').value.trim() || 'en';
    const other = otherLanguage();
    // Translations this page does not show (a third language) are kept as they are.
    const translations = {};
    const kept = (state.article && state.article.translations) || {};
    Object.keys(kept).forEach((code) => {
      if (code !== other && code !== language) translations[code] = kept[code];
    });
    const t = textPayload('t');
    // All empty: no version in that language (customers get the main one, with a note).
    if (t.title.trim() || t.questions.length || t.answer.trim() || Object.keys(t.channels).length) {
      translations[other] = t;
    }
    return Object.assign(body, {
      tags: $('f-tags').value.split(',').map((tag) => { return tag.trim(); })
        .filter((tag) => { return tag; }),
      language: language,
      status: $('f-status').value,
      translations: translations
    });
  }

  function updateSaveLabel() {
    const status = $('f-status').value;
    $('kb-save').textContent = status === 'published' ? 'Save and publish' : 'Save as ' + status;
    const wasLive = state.article && state.article.status === 'published';
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
    const r = await api('GET', '/api/kb/articles/' + encodeURIComponent(id));
    if (!r.ok) { message(errorText(r.data), 'error'); return; }
    state.article = r.data;
    state.resolves = [];
    fillForm(r.data);
    message('');
    document.querySelectorAll('#kb-articles li').forEach((li) => {
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

  /** Saving changes what customers see (goes live, changes live text, or goes
   * off): show what and where, and go on only when the editor confirms. */
  async function confirmPublish(body) {
    const wasLive = state.article && state.article.status === 'published';
    if (body.status !== 'published' && !wasLive) return true;  // customers see nothing of it
    const id = state.article ? state.article.id : $('f-id').value.trim();
    const r = await api('POST', '/api/kb/publish-summary', Object.assign({ id: id }, body));
    if (!r.ok) { message('Not saved: ' + errorText(r.data), 'error'); return false; }
    if (r.data.kind === 'none') return true;
    const go = await confirmLive(r.data, r.data.kind === 'removed'
      ? { title: 'Take "' + r.data.title + '" off every channel?', go: 'Take it off' }
      : { title: 'Publish "' + r.data.title + '"?', go: 'Publish' });
    if (!go) {
      message('Not published: nothing changed for customers. Your edits are still here.', 'info');
      toast('Publishing cancelled: nothing went live.', 'ok');
    }
    return go;
  }

  async function save(event) {
    event.preventDefault();
    const body = formPayload();
    if (!(await confirmPublish(body))) return;
    let r;
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
    toast('Saved "' + r.data.title + '" (version ' + r.data.version + ')' +
          (r.data.live ? ': live on every channel.' : '.'), 'ok');
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

  let previewTimer = null;

  function schedulePreview(delay) {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, delay === undefined ? 350 : delay);
  }

  async function runPreview() {
    const main = $('f-language').value.trim() || 'en';
    const body = textPayload(previewLanguage() === main ? 'f' : 't');
    const r = await api('POST', '/api/kb/preview', { answer: body.answer, channels: body.channels });
    state.preview = r.ok ? r.data : null;
    renderPreview(r.ok ? null : errorText(r.data));
  }

  function renderPreview(error) {
    const box = $('kb-preview-body');
    box.replaceChildren();
    document.querySelectorAll('.kb-chtabs button[data-channel]').forEach((b) => {
      b.classList.toggle('active', b.getAttribute('data-channel') === state.previewChannel);
      const p = state.preview && state.preview[b.getAttribute('data-channel')];
      const worst = p ? p.checks.reduce((w, c) => {
        return c.level === 'error' ? 'error' : (c.level === 'warn' && w !== 'error' ? 'warn' : w);
      }, 'ok') : 'ok';
      b.setAttribute('data-level', worst);
    });
    if (error) { box.appendChild(el('p', { text: error, class: 'error' })); return; }
    const p = state.preview && state.preview[state.previewChannel];
    if (!p) { box.appendChild(el('p', { text: 'Write an answer to see it here.', class: 'muted' })); return; }
    box.appendChild(el('p', { class: 'muted', testid: 'preview-summary',
      text: languageName(previewLanguage()) + ' · ' + p.summary + ' · from the ' + p.source }));
    const checks = el('ul', { class: 'kb-checks', testid: 'preview-checks' });
    p.checks.forEach((c) => {
      checks.appendChild(el('li', { class: 'check-' + c.level, text: c.text }));
    });
    box.appendChild(checks);
    const phone = el('div', { class: 'kb-bubbles channel-' + p.channel });
    p.messages.forEach((m) => {
      const bubble = el('div', { class: 'kb-bubble', testid: 'preview-message' });
      bubble.appendChild(m.format === 'html' ? safeHtml(m.content)
                                             : el('div', { class: 'kb-plain', text: m.content }));
      if (m.note) bubble.appendChild(el('div', { class: 'kb-note', text: m.note }));
      phone.appendChild(bubble);
    });
    box.appendChild(phone);
    const raw = el('details', {}, [el('summary', { text: 'What is sent' }),
                                 el('pre', { class: 'kb-raw', text: p.raw })]);
    box.appendChild(raw);
  }

  // ---------------------------------------------------------------------------
  // History, diff, rollback
  // ---------------------------------------------------------------------------

  async function loadHistory() {
    if (!state.article) { $('kb-history').hidden = true; return; }
    const id = state.article.id;
    const r = await api('GET', '/api/kb/articles/' + encodeURIComponent(id) + '/versions');
    const list = $('kb-versions');
    list.replaceChildren();
    $('kb-diff').replaceChildren();
    $('kb-history').hidden = false;
    if (!r.ok) { list.appendChild(el('li', { text: errorText(r.data), class: 'error' })); return; }
    r.data.versions.forEach((v) => {
      const isCurrent = v.version === r.data.current;
      const item = el('li', { testid: 'kb-version-row' }, [
        el('strong', { text: 'v' + v.version + (isCurrent ? ' (current)' : '') }),
        el('span', { text: ' · ' + when(v.updated_at) + ' · ' + v.updated_by + ' · ' + v.status }),
        el('span', { class: 'muted', text: ' · ' + v.changed.join(', ') })
      ]);
      item.setAttribute('data-version', v.version);
      const diffButton = el('button', { type: 'button', text: 'Changes', testid: 'kb-diff-button',
                                        class: 'btn btn-small btn-quiet' });
      diffButton.addEventListener('click', () => { showDiff(id, v.version); });
      item.appendChild(diffButton);
      if (!isCurrent) {
        const back = el('button', { type: 'button', text: 'Roll back to v' + v.version,
                                  testid: 'kb-rollback-button', class: 'btn btn-small' });
        back.addEventListener('click', () => { rollback(id, v.version); });
        item.appendChild(back);
      }
      list.appendChild(item);
    });
  }

  async function showDiff(id, version) {
    const r = await api('GET', '/api/kb/articles/' + encodeURIComponent(id) +
                             '/diff?to_version=' + version);
    const box = $('kb-diff');
    box.replaceChildren();
    if (!r.ok) { box.appendChild(el('p', { text: errorText(r.data), class: 'error' })); return; }
    if (r.data.created) {
      box.appendChild(el('p', { text: 'Version ' + version + ' created the article.' }));
      return;
    }
    box.appendChild(el('h3', { text: 'Changes from v' + r.data.from_version + ' to v' + r.data.to_version }));
    const d = r.data.rendered;
    if (!d.languages.length && !d.fields.length) box.appendChild(el('p', { text: 'No content changed.' }));
    else box.appendChild(renderedDiff(d));
  }

  async function rollback(id, version) {
    if (!confirmDiscard()) return;
    const summary = await api('GET', '/api/kb/articles/' + encodeURIComponent(id) +
                                     '/rollback-summary?version=' + version);
    if (!summary.ok) { message(errorText(summary.data), 'error'); return; }
    const go = await confirmLive(summary.data, { title: 'Roll back "' + summary.data.title +
      '" to version ' + version + '?', go: 'Roll back' });
    if (!go) {
      toast('Rollback cancelled: nothing changed.', 'ok');
      return;
    }
    const r = await api('POST', '/api/kb/articles/' + encodeURIComponent(id) + '/rollback',
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
    toast('Rolled back "' + r.data.title + '" to the content of version ' + version + '.', 'ok');
    loadList();
    loadHistory();
    schedulePreview(0);
  }

  // ---------------------------------------------------------------------------
  // Try a question
  // ---------------------------------------------------------------------------

  async function tryQuestion(event) {
    event.preventDefault();
    const q = $('kb-try-q').value.trim();
    const box = $('kb-try-result');
    box.replaceChildren();
    if (!q) return;
    const wait = setTimeout(() => {
      box.appendChild(el('p', { class: 'muted', text: 'Loading the language model (first time only)…' }));
    }, 800);
    const r = await api('POST', '/api/kb/try', { question: q, channel: $('kb-try-channel').value,
                                               language: $('kb-try-language').value });
    clearTimeout(wait);
    box.replaceChildren();
    if (!r.ok) { box.appendChild(el('p', { text: errorText(r.data), class: 'error' })); return; }
    const d = r.data;
    const words = { answer: 'Answer', clarify: 'Clarify (offer buttons)', fallback: 'Fall back' };
    box.appendChild(el('p', {}, [
      el('span', { class: 'badge ' + ({ answer: 'badge-ok', clarify: 'badge-warn', fallback: 'badge-danger' }[d.decision] || 'badge-muted') +
                   ' decision-' + d.decision, testid: 'kb-try-decision',
                   text: words[d.decision] || d.decision }),
      el('span', { class: 'muted', text: d.article ? ' with ' + d.article.title + ' (v' + d.article.version + ')' : '' })
    ]));
    box.appendChild(el('p', { class: 'muted kb-small', text: 'answer ≥ ' + d.thresholds.answer +
      ', clarify ≥ ' + d.thresholds.clarify + ', runner-up margin ' + d.thresholds.margin }));
    const table = el('table', { class: 'kb-matches', testid: 'kb-try-matches' });
    table.appendChild(el('tr', {}, [el('th', { text: 'Article' }), el('th', { text: 'Score' }),
                                    el('th', { text: 'Closest variant' })]));
    d.matches.forEach((m) => {
      const title = el('a', { text: m.title });
      title.href = '#';
      title.addEventListener('click', (e) => { e.preventDefault(); openArticle(m.article_id); });
      const bar = el('span', { class: 'kb-bar' });
      bar.appendChild(el('span', { class: 'kb-bar-fill' }));
      bar.firstChild.style.width = Math.max(0, Math.round(m.score * 100)) + '%';
      table.appendChild(el('tr', { testid: 'kb-try-match' }, [
        el('td', {}, [title]),
        el('td', {}, [el('span', { text: m.score.toFixed(3) }), bar]),
        el('td', { text: m.question })
      ]));
    });
    box.appendChild(table);
    box.appendChild(el('p', { class: 'muted', text: 'The assistant would say:' }));
    const phone = el('div', { class: 'kb-bubbles channel-' + d.reply.preview.channel });
    d.reply.preview.messages.forEach((m) => {
      phone.appendChild(el('div', { class: 'kb-bubble' }, [m.format === 'html'
        ? safeHtml(m.content) : el('div', { class: 'kb-plain', text: m.content })]));
    });
    const buttons = el('div', { class: 'kb-row', testid: 'kb-try-buttons' });
    d.reply.buttons.forEach((b) => { buttons.appendChild(el('span', { class: 'badge badge-info', text: b })); });
    phone.appendChild(buttons);
    box.appendChild(phone);
  }

  // ---------------------------------------------------------------------------
  // Unanswered questions
  // ---------------------------------------------------------------------------

  async function loadUnanswered() {
    const box = $('kb-groups');
    box.replaceChildren();
    box.appendChild(el('p', { class: 'muted', text: 'Grouping questions…' }));
    const r = await api('GET', '/api/kb/unanswered');
    const articles = await api('GET', '/api/kb/articles');
    box.replaceChildren();
    if (!r.ok) { box.appendChild(el('p', { text: errorText(r.data), class: 'error' })); return; }
    if (!r.data.groups.length) {
      box.appendChild(emptyGroups());
      return;
    }
    r.data.groups.forEach((g) => { box.appendChild(groupCard(g, articles.data.articles, r.data.suggest_at)); });
  }

  function emptyGroups() {
    return el('p', { class: 'empty-state', testid: 'kb-groups-empty', text: 'No unanswered questions. 🎉' });
  }

  /** A group dealt with leaves the list (the empty state when it was the last). */
  function groupDone(card) {
    const box = $('kb-groups');
    card.remove();
    if (!box.querySelector('.kb-group')) box.replaceChildren(emptyGroups());
  }

  function groupCard(g, articles, suggestAt) {
    const card = el('div', { class: 'card kb-group', testid: 'kb-group' });
    const outcomes = Object.keys(g.outcomes).map((k) => { return g.outcomes[k] + ' ' + k; }).join(', ');
    const channels = Object.keys(g.channels).join(', ');
    card.appendChild(el('h3', { class: 'card-header' }, [el('span', { text: g.label, testid: 'kb-group-label' }),
      el('span', { class: 'badge badge-info', text: '× ' + g.count, testid: 'kb-group-count' })]));
    card.appendChild(el('p', { class: 'muted kb-small',
      text: outcomes + ' · ' + channels + ' · last ' + when(g.last_seen) }));
    const list = el('ul', { class: 'kb-queries' });
    const boxes = [];
    g.queries.forEach((q) => {
      const check = el('input', { type: 'checkbox' });
      check.checked = true;
      check.value = q.text;
      boxes.push(check);
      list.appendChild(el('li', {}, [el('label', {}, [check,
        el('span', { text: ' ' + q.text + (q.count > 1 ? ' (×' + q.count + ')' : '') })])]));
    });
    card.appendChild(list);
    function chosen() {
      return boxes.filter((b) => { return b.checked; }).map((b) => { return b.value; });
    }
    // The suggestion, and why; none when no article scores what the assistant
    // needs to at least offer it (then the editor chooses, nothing is preselected).
    const hint = g.suggestion
      ? el('p', { class: 'kb-suggestion', testid: 'kb-group-suggestion' }, [
        el('span', { class: 'badge badge-ok', text: 'suggested' }), ' ',
        el('strong', { text: g.suggestion.title }),
        el('span', { class: 'muted', text: ' · score ' + g.suggestion.score.toFixed(2) + ' (suggested from ' +
          suggestAt.toFixed(2) + ') · closest variant: "' + g.suggestion.question + '"' +
          (g.suggestion.asked_as !== g.label ? ' · read as "' + g.suggestion.asked_as + '"' : '') })])
      : el('p', { class: 'kb-suggestion muted', testid: 'kb-group-no-suggestion',
        text: 'No article matches well enough: none reaches the score ' + suggestAt.toFixed(2) +
              ' at which the assistant would offer it. Choose one, start a new article, or dismiss.' });
    card.appendChild(hint);
    const select = el('select', { class: 'input', testid: 'kb-group-article' });
    select.setAttribute('aria-label', 'Article to add these questions to');
    select.appendChild(el('option', { text: 'Choose an article…', value: '' }));
    articles.forEach((a) => {
      const o = el('option', { text: a.title + ' (' + a.status + ')' });
      o.value = a.id;
      select.appendChild(o);
    });
    select.value = g.suggestion ? g.suggestion.article_id : '';
    // Which language the wordings are in: the article's main language unless the editor says.
    const language = el('select', { class: 'input', testid: 'kb-group-language' });
    language.setAttribute('aria-label', 'Language of these questions');
    language.appendChild(el('option', { text: "in the article's main language" }));
    language.firstChild.value = '';
    LANGUAGES.forEach((code) => {
      const o = el('option', { text: 'as ' + languageName(code) + ' questions' });
      o.value = code;
      language.appendChild(o);
    });
    const add = el('button', { type: 'button', text: 'Add as variants', testid: 'kb-group-add',
                               class: 'btn btn-primary btn-small' });
    const note = el('p', { testid: 'kb-group-note' });
    function failed(text) {
      note.textContent = text;
      note.className = 'error';
      toast(text, 'error');
    }
    add.addEventListener('click', async () => {
      if (!select.value) { failed('Choose the article to add these questions to first.'); select.focus(); return; }
      const questions = chosen();
      if (!questions.length) { failed('Tick at least one question to add.'); return; }
      const target = await api('GET', '/api/kb/articles/' + encodeURIComponent(select.value));
      if (!target.ok) { failed(errorText(target.data)); return; }
      const r = await api('POST', '/api/kb/unanswered/add-variants', {
        article_id: select.value, expected_version: target.data.version,
        queries: questions, entry_ids: g.entry_ids, language: language.value || null });
      if (!r.ok) { failed('Not added: ' + errorText(r.data)); return; }
      const done = 'Added ' + questions.length + ' question' + (questions.length === 1 ? '' : 's') +
        ' to "' + r.data.title + '" (version ' + r.data.version + (r.data.live ? ', live now' : '') + ').';
      toast(done, 'ok');
      groupDone(card);
      loadList();
    });
    const start = el('button', { type: 'button', text: 'New article from these', testid: 'kb-group-new',
                                 class: 'btn btn-small' });
    start.addEventListener('click', () => {
      newArticle({ title: g.label, questions: chosen() }, g.entry_ids);
    });
    const dismiss = el('button', { type: 'button', text: 'Dismiss', testid: 'kb-group-dismiss',
                                   class: 'btn btn-quiet btn-small' });
    dismiss.addEventListener('click', async () => {
      const r = await api('POST', '/api/kb/unanswered/dismiss', { entry_ids: g.entry_ids });
      if (!r.ok) { failed('Not dismissed: ' + errorText(r.data)); return; }
      groupDone(card);
      toast('Dismissed "' + g.label + '" (' + r.data.resolved + ' question' +
            (r.data.resolved === 1 ? '' : 's') + ').', 'ok');
    });
    card.appendChild(el('div', { class: 'kb-row kb-group-actions' }, [select, language, add, start, dismiss]));
    card.appendChild(note);
    return card;
  }

  // ---------------------------------------------------------------------------
  // Import
  // ---------------------------------------------------------------------------

  async function importFile(dryRun) {
    const box = $('kb-import-result');
    box.replaceChildren();
    const file = $('kb-import-file').files[0];
    if (!file) { box.appendChild(el('p', { class: 'error', text: 'Choose a file first.' })); return; }
    const form = new FormData();
    form.append('file', file);
    const r = await api('POST', '/api/kb/import?dry_run=' + (dryRun ? 'true' : 'false'), form, true);
    if (!r.ok) {
      box.appendChild(el('p', { class: 'error', text: errorText(r.data) }));
      const problems = el('ul', { testid: 'import-problems' });
      ((r.data && r.data.problems) || []).forEach((p) => { problems.appendChild(el('li', { text: p })); });
      box.appendChild(problems);
      return;
    }
    const d = r.data;
    box.appendChild(el('p', { class: 'ok', text: (dryRun ? 'Check passed: would create ' : 'Imported: created ') +
      d.created.length + ', ' + (dryRun ? 'update ' : 'updated ') + d.updated.length + ', unchanged ' +
      d.unchanged.length + '.' }));
    [['created', d.created], ['updated', d.updated]].forEach((pair) => {
      if (pair[1].length) box.appendChild(el('p', { class: 'kb-small', text: pair[0] + ': ' + pair[1].join(', ') }));
    });
    if (!dryRun) {
      toast('Imported: ' + d.created.length + ' created, ' + d.updated.length + ' updated.', 'ok');
      loadList();
    }
  }

  // ---------------------------------------------------------------------------
  // Wiring
  // ---------------------------------------------------------------------------

  function start() {
    document.querySelectorAll('.kb-tabs button').forEach((b) => {
      b.addEventListener('click', () => { showTab(b.getAttribute('data-tab')); });
    });
    $('kb-search').addEventListener('input', () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(loadList, 200);
    });
    $('kb-status-filter').addEventListener('change', loadList);
    $('kb-missing').addEventListener('change', loadList);
    $('kb-new').addEventListener('click', () => { newArticle(null, []); });
    $('kb-form').addEventListener('submit', save);
    $('kb-form').addEventListener('input', (e) => {
      state.dirty = true;
      if (e.target.id === 'f-id') state.idTouched = true;
      if (e.target.id === 'f-title' && !state.article && !state.idTouched) {
        $('f-id').value = slugify($('f-title').value);
      }
      // a new main language relabels the columns (their text stays where it is)
      if (e.target.id === 'f-language' || /^t-(title|questions|answer)$/.test(e.target.id)) {
        labelLanguages();
      }
      if (/^[ft]-(answer|ch-)/.test(e.target.id)) schedulePreview();
    });
    $('f-status').addEventListener('change', updateSaveLabel);
    $('kb-load-latest').addEventListener('click', loadLatest);
    document.querySelectorAll('.kb-chtabs button[data-channel]').forEach((b) => {
      b.addEventListener('click', () => {
        state.previewChannel = b.getAttribute('data-channel');
        renderPreview();
      });
    });
    $('kb-try-form').addEventListener('submit', tryQuestion);
    $('kb-unanswered-refresh').addEventListener('click', loadUnanswered);
    $('kb-import-form').addEventListener('submit', (e) => { e.preventDefault(); importFile(false); });
    $('kb-import-check').addEventListener('click', () => { importFile(true); });
    window.addEventListener('beforeunload', (e) => {
      if (state.dirty) { e.preventDefault(); e.returnValue = ''; }
    });
    loadList();
    api('POST', '/api/kb/warm-up', {});  // load the language model while the editor reads
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
