/*
 * Front Door DOM helper, shared by every Front Door page.
 *
 * FrontDoorDom.el(tag, props, ...children) builds an element from attributes,
 * text and nodes only: it never parses markup (HTML from the server goes
 * through FrontDoorSafeHtml.sanitize and is appended as a node).
 *
 * props: class, text (textContent), testid (data-testid), data (dataset),
 * on<event> (a listener function); anything else is an attribute (true: empty
 * value; null, undefined, false: left out). Children: nodes, strings (text)
 * and arrays of them; null, undefined and false are skipped.
 *
 * JavaScript style of the Front Door pages: strict-mode arrow IIFE, const/let,
 * function declarations for named functions, arrow functions for callbacks,
 * single quotes, no build step.
 */
(() => {
  'use strict';

  const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);
  const URL_SCHEMES = new Set(['http:', 'https:', 'mailto:', 'tel:']);

  function safeUrl(value) {
    try {
      return URL_SCHEMES.has(new URL(value, document.baseURI).protocol);
    } catch (_) {
      return false;
    }
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      const name = key.toLowerCase();
      if (key === 'class') node.className = String(value);
      else if (key === 'text') node.textContent = String(value);
      else if (key === 'testid') node.dataset.testid = String(value);
      else if (key === 'data') Object.assign(node.dataset, value);
      else if (name.startsWith('on')) {
        if (typeof value !== 'function') throw new TypeError(`el(): ${key} needs a function`);
        node.addEventListener(name.slice(2), value);
      } else if (URL_ATTRS.has(name) && !safeUrl(String(value))) {
        continue; // javascript:, data: and the like never become a link
      } else node.setAttribute(key, value === true ? '' : String(value));
    }
    return append(node, children);
  }

  globalThis.FrontDoorDom = Object.freeze({ el, append });
})();
