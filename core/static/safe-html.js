/*
 * Front Door safe HTML: the one HTML allow-list of every Front Door page (web
 * chat widget, agent console, knowledge editor, channel sandbox).
 *
 * FrontDoorSafeHtml.sanitize(html) parses an HTML string in an inert document
 * (DOMPurify: nothing in it loads or runs), keeps only the tags and attributes
 * below and returns a DocumentFragment to append. Markup is never assigned to
 * a live element. Needs core/static/vendor/purify.min.js loaded before it.
 */
(() => {
  'use strict';

  // Tag -> the attributes it may keep: the union of what the pages show, i.e.
  // the server-rendered Markdown (web chat, agent console, knowledge previews)
  // and Telegram's HTML subset (sandbox).
  const TAGS = {
    a: ['href', 'title'], abbr: ['title'], b: [], blockquote: [], br: [], code: ['class'],
    dd: [], del: [], div: [], dl: [], dt: [], em: [], h1: [], h2: [], h3: [], h4: [], h5: [],
    h6: [], hr: [], i: [], img: ['src', 'alt', 'title', 'width', 'height'], ins: [], kbd: [],
    li: [], mark: [], ol: ['start'], p: [], pre: [], s: [], small: [], span: ['class'],
    strike: [], strong: [], sub: [], sup: [], table: [], tbody: [], td: ['colspan', 'rowspan'],
    tfoot: [], th: ['colspan', 'rowspan', 'scope'], thead: [], tr: [], 'tg-spoiler': [], u: [],
  };
  // The values an attribute may have.
  const VALUES = {
    href: /^(?:https?|mailto|tel):/i,
    src: /^https?:/i,
    class: /^(?:tg-spoiler|language-[\w+#.-]{1,32})$/,
    start: /^\d{1,6}$/,
    colspan: /^\d{1,3}$/,
    rowspan: /^\d{1,3}$/,
    width: /^\d{1,4}$/,
    height: /^\d{1,4}$/,
    scope: /^(?:row|col|rowgroup|colgroup)$/,
  };
  const ATTRS = [...new Set(Object.values(TAGS).flat())];

  const CONFIG = {
    ALLOWED_TAGS: Object.keys(TAGS),
    ALLOWED_ATTR: ATTRS,
    ALLOWED_URI_REGEXP: VALUES.href, // absolute http(s), mailto and tel links only
    ADD_URI_SAFE_ATTR: ATTRS.filter((name) => name !== 'href' && name !== 'src'),
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    // Other elements are unwrapped (their text stays); these go with their content.
    ADD_FORBID_CONTENTS: ['applet', 'button', 'canvas', 'dialog', 'embed', 'form', 'frame',
      'frameset', 'object', 'option', 'portal', 'select', 'textarea'],
    FORCE_BODY: true, // a leading <script> or <style> is content too, not <head>
    RETURN_DOM_FRAGMENT: true,
  };

  const purify = globalThis.DOMPurify(window); // our own instance: our hooks only
  let textOutside = null; // see sanitize(html, { only })

  purify.addHook('uponSanitizeElement', (node, data) => {
    if (textOutside && node.nodeType === Node.ELEMENT_NODE && data.tagName !== 'body'
        && !textOutside.has(data.tagName)) {
      node.replaceWith(node.ownerDocument.createTextNode(node.outerHTML));
    }
  });

  purify.addHook('uponSanitizeAttribute', (node, data) => {
    const allowed = TAGS[node.nodeName.toLowerCase()] || [];
    const rule = VALUES[data.attrName];
    if (!allowed.includes(data.attrName) || (rule && !rule.test(data.attrValue))) {
      data.keepAttr = false;
    }
  });

  /**
   * The HTML string, sanitised, as a DocumentFragment.
   *
   * options.only (optional): tag names (within the allow-list) to keep as
   * markup; any other element is shown as its own markup, as text, e.g. the
   * sandbox shows what Telegram would reject. It can only narrow the list.
   */
  function sanitize(html, options) {
    const only = options && options.only;
    if (!purify.isSupported) { // fail closed: the text, never markup
      const fallback = document.createDocumentFragment();
      fallback.append(String(html ?? ''));
      return fallback;
    }
    textOutside = only ? new Set(only) : null;
    let fragment;
    try {
      fragment = purify.sanitize(String(html ?? ''), CONFIG);
    } finally {
      textOutside = null;
    }
    // Done on the sanitised (still detached) fragment, not during the walk.
    for (const link of fragment.querySelectorAll('a')) {
      if (link.hasAttribute('href')) {
        link.setAttribute('target', '_blank');
        link.setAttribute('rel', 'noopener noreferrer');
      } else {
        link.replaceWith(...link.childNodes); // no safe target: its text only
      }
    }
    for (const image of fragment.querySelectorAll('img')) {
      if (image.hasAttribute('src')) {
        image.setAttribute('loading', 'lazy');
        image.setAttribute('referrerpolicy', 'no-referrer');
      } else {
        image.remove();
      }
    }
    return document.importNode(fragment, true);
  }

  globalThis.FrontDoorSafeHtml = Object.freeze({
    sanitize,
    TAGS: Object.freeze(Object.keys(TAGS)),
    VERSION: purify.version,
  });
})();
