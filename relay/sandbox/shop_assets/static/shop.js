/* The demo shop's page logic: it calls relay(...) like any site would, and fills the side panel
 * from the snippet's DOM events (relay:event when an event is queued, relay:sent when it left), then
 * asks the sandbox what became of each event (api/status): delivered, skipped for consent (amber),
 * refused by the relay or dead (red). "Left the page" is not "sent": only the relay's answer is. */
(function () {
  'use strict';
  var KEY = 'shop-events';
  var events = [];
  try { events = JSON.parse(sessionStorage.getItem(KEY)) || []; } catch (e) { /* a fresh list */ }
  var data = {};
  // the panel's "time on page" switch turns on pixel.js's engagement option (off by default); this
  // script runs before the snippet loads, so the option is in place when it reads window.relayConfig
  var ENGAGE = 'shop-engagement', engaged = false;
  try { engaged = localStorage.getItem(ENGAGE) === 'on'; } catch (e) { /* off */ }
  if (engaged) window.relayConfig = Object.assign({ engagement: true }, window.relayConfig);

  function load() {
    var node = document.getElementById('shop-data');
    if (node && !data.page) {
      try { data = JSON.parse(node.textContent); } catch (e) { data = {}; }
    }
    return data;
  }

  function save() {
    events = events.slice(-30);
    try { sessionStorage.setItem(KEY, JSON.stringify(events)); } catch (e) { /* panel only */ }
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function render() {
    var list = document.getElementById('event-list');
    if (!list) return;
    list.textContent = '';
    if (!events.length) list.appendChild(el('li', 'empty', 'No event yet.'));
    events.slice().reverse().forEach(function (ev) {
      // "sent" once it left the page; the relay's verdict is added next to it (ok, skipped, refused...)
      var item = el('li', ev.state === 'queued' ? 'queued' : 'sent' + (ev.outcome ? ' ' + ev.outcome : ''));
      item.appendChild(el('strong', null, ev.name));
      item.appendChild(el('span', 'state', ev.state));
      if (ev.detail) item.appendChild(el('span', 'detail', ev.detail));
      item.appendChild(el('code', 'event-id', ev.id));
      item.appendChild(el('span', 'page', ev.page));
      list.appendChild(item);
    });
  }

  // what the relay did with an event, from its deliveries (one per connector)
  function judge(ev, info, originAllowed) {
    if (!info.stored) {
      if (!originAllowed) {
        ev.outcome = 'refused'; ev.state = 'refused';
        ev.detail = 'origin_not_allowed: this page\'s origin is not in server.allowed_origins';
      }
      return !originAllowed;
    }
    var by = {}, parts = [];
    info.deliveries.forEach(function (d) {
      by[d.status] = (by[d.status] || 0) + 1;
      parts.push(d.connector + ' ' + d.status + (d.status === 'skipped' && d.reason ? ' (' + d.reason + ')' : ''));
    });
    var n = info.deliveries.length;
    if (!n) { ev.outcome = 'skipped'; ev.state = 'stored, no connector'; }
    else if (by.dead) { ev.outcome = 'failed'; ev.state = 'dead'; }
    else if (by.skipped === n) { ev.outcome = 'skipped'; ev.state = 'skipped'; }
    else if ((by.delivered || 0) + (by.skipped || 0) === n) {
      ev.outcome = by.skipped ? 'partial' : 'ok'; ev.state = by.skipped ? 'delivered, some skipped' : 'delivered';
    } else { ev.outcome = 'sent'; ev.state = 'pending'; }
    var m = info.engagement;
    if (m) parts.unshift('engaged ' + m.engaged_seconds + ' s, scrolled ' + m.scroll_depth + '%');
    ev.detail = parts.join(' · ');
    return ev.state !== 'pending';
  }
  var polling = 0;
  function poll(tries) {
    var open = events.filter(function (ev) { return ev.state !== 'queued' && !ev.done; });
    if (!open.length || !data.base) { polling = 0; return; }
    polling = 1;
    var ids = open.map(function (ev) { return ev.id; }).slice(-30).join(',');
    fetch(data.base + '/api/status?ids=' + encodeURIComponent(ids), { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        open.forEach(function (ev) {
          var info = answer.events[ev.id];
          if (info && judge(ev, info, answer.origin_allowed)) ev.done = true;
          else if (!info || !info.stored) ev.unseen = (ev.unseen || 0) + 1;
          if (!ev.done && ev.unseen >= 8) {
            ev.done = true; ev.outcome = 'refused'; ev.state = 'not received';
            ev.detail = 'the relay has no record of this event (refused, or blocked on the way)';
          }
        });
        save(); render();
      })
      .catch(function () { /* the panel only */ })
      .then(function () {
        if (tries > 0) setTimeout(function () { poll(tries - 1); }, 1000);
        else polling = 0;
      });
  }
  function watch() { if (!polling) poll(20); }
  window.addEventListener('relay:event', function (e) {
    events.push({ name: e.detail.event_name, id: e.detail.event_id, state: 'queued',
      page: location.pathname.replace(load().base || '', '') + location.search || '/' });
    save();
    render();
  });
  window.addEventListener('relay:sent', function (e) {
    events.forEach(function (ev) {
      if (e.detail.ids.indexOf(ev.id) >= 0) ev.state = 'left the page · ' + e.detail.via;
    });
    save();
    render();
    watch();
  });

  function contents(p, qty) {
    return {
      content_ids: [p.id], content_type: 'product', content_name: p.name, content_category: p.category,
      contents: [{ id: p.id, quantity: qty, price: p.price, name: p.name }],
      value: Math.round(p.price * qty * 100) / 100, currency: data.currency, num_items: qty,
    };
  }
  function on(id, type, fn) {
    var node = document.getElementById(id);
    if (node) node.addEventListener(type, fn);
  }

  // home: category chips change the URL with history.pushState, a single-page-app navigation
  function filter() {
    var chosen = new URLSearchParams(location.search).get('category') || '';
    document.querySelectorAll('.card').forEach(function (card) {
      card.hidden = !!chosen && card.getAttribute('data-category') !== chosen;
    });
    document.querySelectorAll('.chip').forEach(function (chip) {
      chip.setAttribute('aria-pressed', String(chip.getAttribute('data-filter') === chosen));
    });
  }
  function home() {
    document.querySelectorAll('.chip').forEach(function (chip) {
      chip.addEventListener('click', function () {
        var c = chip.getAttribute('data-filter');
        history.pushState({}, '', data.base + '/' + (c ? '?category=' + c : ''));
        filter();
      });
    });
    window.addEventListener('popstate', filter);
    filter();
  }

  function product() {
    var p = data.product;
    relay('track', 'ViewContent', contents(p, 1));
    on('add-to-cart', 'submit', function (e) {
      e.preventDefault();
      var qty = +e.target.qty.value || 1;
      relay('track', 'AddToCart', contents(p, qty));
      location.href = data.base + '/checkout?product=' + encodeURIComponent(p.id) + '&qty=' + qty;
    });
  }

  function checkout() {
    var cart = data.cart;
    if (!cart) return;
    relay('track', 'InitiateCheckout', contents(cart.product, cart.qty));
    on('checkout-form', 'submit', function (e) {
      e.preventDefault();
      var f = e.target, user = {};
      ['email', 'phone', 'first_name', 'last_name', 'country'].forEach(function (k) {
        if (f[k].value.trim()) user[k] = f[k].value.trim();
      });
      // logged-in/checkout details: kept in memory by the snippet, sent only in POST bodies
      relay('identify', user);
      var order = 'order-' + Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
      var custom = contents(cart.product, cart.qty);
      custom.order_id = order;
      relay('track', 'Purchase', custom, {
        eventID: order,
        callback: function (id) {
          // with the platforms' own pixels on the page, the same id deduplicates (no-ops here)
          if (window.fbq) window.fbq('track', 'Purchase', custom, { eventID: id });
          if (window.twq) window.twq('event', 'tw-o8z6j-o87ne', { value: custom.value, currency: custom.currency, conversion_id: id });
          if (window.ttq) window.ttq.track('CompletePayment', { value: custom.value, currency: custom.currency }, { event_id: id });
        },
      });
      // leaving at once is fine: the snippet hands queued events to sendBeacon on pagehide
      location.href = data.base + '/thanks?order=' + encodeURIComponent(order);
    });
  }

  function toggle() {
    var button = document.getElementById('toggle-engagement');
    if (!button) return;
    button.textContent = 'Time on page: ' + (engaged ? 'on' : 'off');
    button.addEventListener('click', function () {
      try { localStorage.setItem(ENGAGE, engaged ? 'off' : 'on'); } catch (e) { return; }
      location.reload();
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    load();
    render();
    watch();
    toggle();
    var page = { home: home, product: product, checkout: checkout }[data.page];
    if (page) page();
  });
})();
