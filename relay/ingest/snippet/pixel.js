/*! conversion-relay pixel.js: first-party events; docs in relay/ingest/snippet/README.md */
(function (w, d) {
  'use strict';
  var old = w.relay;
  if (old && old.loaded) return;
  var nav = w.navigator, loc = w.location, hist = w.history;
  var el = d.currentScript || d.querySelector('script[src$="/pixel.js"]');
  var attr = (el && el.dataset) || {};
  var cfg = w.relayConfig || {};
  function opt(k, def) {
    var v = k in cfg ? cfg[k] : attr[k];
    return v == null || v === '' ? def : v;
  }
  var base = opt('endpoint', el && el.src ? new URL(el.src, loc.href).origin : loc.origin);
  var url = String(base).replace(/\/+$/, '') + '/v1/collect';
  var auto = String(opt('autoPageView', true)) != 'false';
  var retryDelay = +opt('retryDelay', 1000);
  var deadline = Date.now() + +opt('cmpTimeout', 500);
  var engaged = String(opt('engagement', false)) == 'true', idle = +opt('idleTimeout', 10000);
  var USER = 'email phone first_name last_name gender date_of_birth city state zip country external_id fbp fbc twclid ttclid ttp sc_click_id scid epik rdt_cid rdt_uuid li_fat_id gclid gbraid wbraid subscription_id lead_id madid'.split(' ');
  var CONSENT = 'tcf gdpr_applies gpp gpp_sid usp gcm gpc'.split(' ');
  var GCM = ['ad_storage', 'analytics_storage', 'ad_user_data', 'ad_personalization'];
  var queue = [], user = {}, manual = null, sig = {}, wait = {}, tries = {};
  var answered = 0, busy = 0, fails = 0, scheduled = 0, timer = 0, gcmWait = 0;
  var ref = d.referrer, last = href();
  var pids, eng, depth, tick, act, vis = d.visibilityState != 'hidden';

  function href() { return loc.href.split('#')[0]; }
  function later() { if (!scheduled) scheduled = setTimeout(flush, 0); }
  function emit(name, detail) {
    try { w.dispatchEvent(new CustomEvent(name, { detail: detail })); } catch (e) { /* old browsers */ }
  }
  function uuid() {
    var c = w.crypto;
    if (c.randomUUID) return c.randomUUID();
    return '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, function (x) {
      return (x ^ (c.getRandomValues(new Uint8Array(1))[0] & (15 >> (x / 4)))).toString(16);
    });
  }
  function pick(src, keys, into) {
    for (var i = 0; i < keys.length; i++) {
      var k = keys[i];
      if (src && k in src) src[k] == null ? delete into[k] : (into[k] = src[k]);
    }
    return into;
  }

  // -- consent: CMPs present at load are awaited (cmpTimeout), then read on every send
  function listen(name, fn) {
    if (typeof w[name] != 'function') return;
    wait[name] = 1;
    try { fn(w[name]); } catch (e) { wait[name] = 0; }
  }
  function done(name) { wait[name] = 0; later(); }
  listen('__tcfapi', function (api) {
    api('addEventListener', 2, function (tc, ok) {
      if (ok && tc) {
        if (tc.tcString) sig.tcf = tc.tcString;
        if (typeof tc.gdprApplies == 'boolean') sig.gdpr_applies = tc.gdprApplies;
        // banner up: wait for the visitor's choice (up to the deadline)
        if (tc.eventStatus == 'cmpuishown' && tc.gdprApplies !== false) return later();
      }
      done('__tcfapi');
    });
  });
  listen('__gpp', function (api) {
    api('addEventListener', function (ev, ok) {
      var p = ev && (ev.pingData || ev);
      if (ok && p && p.gppString) { sig.gpp = p.gppString; sig.gpp_sid = p.applicableSections; }
      if (!ok || !p || p.signalStatus != 'not ready') done('__gpp');
    });
  });
  listen('__uspapi', function (api) {
    api('getUSPData', 1, function (r, ok) {
      if (ok && r && r.uspString) sig.usp = r.uspString;
      done('__uspapi');
    });
  });
  var dl = (w.dataLayer = w.dataLayer || []), push = dl.push;
  dl.push = function () {
    var r = push.apply(dl, arguments);
    later();
    return r;
  };
  // Google consent mode (gtag consent default/update in dataLayer); a region-scoped default
  // can't be matched here: only its "denied" values count (fail closed)
  function gcm() {
    var def = {}, reg = {}, upd = {}, waits = 0, updated = 0;
    for (var i = 0; i < dl.length; i++) {
      var e = dl[i], o = e && e[0] == 'consent' && e[2], isDef = o && e[1] == 'default';
      if (!o || typeof o != 'object' || (!isDef && e[1] != 'update')) continue;
      if (isDef) waits = waits || o.wait_for_update;
      else updated = 1;
      for (var j = 0; j < GCM.length; j++) {
        var k = GCM[j], v = o[k];
        if (v != 'granted' && v != 'denied') continue;
        if (!isDef) upd[k] = v;
        else if (!o.region) def[k] = v;
        else if (v == 'denied') reg[k] = v;
      }
    }
    gcmWait = waits && !updated;
    var all = Object.assign(def, reg, upd);
    return Object.keys(all).length ? all : null;
  }
  function consent() {
    var c = pick(sig, CONSENT, {}), g = gcm();
    if (g) c.gcm = g;
    if (nav.globalPrivacyControl === true) c.gpc = true;
    return pick(manual, CONSENT, c);
  }
  function ready() {
    gcm();
    var left = deadline - Date.now();
    if (manual || left <= 0 || !(gcmWait || wait.__tcfapi || wait.__gpp || wait.__uspapi)) return 1;
    if (!timer) timer = setTimeout(flush, left);
    return 0;
  }

  // -- sending
  function body(evs) {
    var c = consent(), u = Object.keys(user).length ? user : null;
    return JSON.stringify({
      events: evs.map(function (e) {
        e.consent = c;
        if (u) e.user = u;
        return e;
      }),
    });
  }
  function sent(evs, via) {
    emit('relay:sent', { ids: evs.map(function (e) { return e.event_id; }), via: via });
  }
  // fetch: the answer sets cookies; retried with backoff
  function post(evs) {
    var b = body(evs);
    busy = 1;
    fetch(url, {
      method: 'POST', body: b, keepalive: true, credentials: 'include',
      headers: { 'Content-Type': 'text/plain' },
    }).then(function (r) {
      if (r.status == 429 || r.status >= 500) throw r.status;
      answered = 1;
      fails = busy = 0;
      sent(evs, 'fetch ' + r.status);
      later();
    }).catch(function () {
      fails++;
      queue.unshift.apply(queue, evs.filter(function (e) {
        return (tries[e.event_id] = (tries[e.event_id] || 0) + 1) < 4;
      }));
      // one request at a time while the relay fails: no retry storm
      setTimeout(function () { busy = 0; flush(); },
        Math.min(30000, retryDelay * Math.pow(2, fails - 1)) * (0.5 + Math.random() / 2));
    });
  }
  function beacon(evs) {
    if (nav.sendBeacon && nav.sendBeacon(url, body(evs))) sent(evs, 'beacon');
    else post(evs);
  }
  // a visit's first hit (no _fbp yet, or click ids) goes alone and is awaited: later hits carry its ids
  function first() {
    return !answered && (!/(^|;\s*)_fbp=/.test(d.cookie) || /[?&]((fb|tw|tt|g)clid|ScCid|epik|rdt_cid|li_fat_id|[gw]braid)=/.test(loc.search));
  }
  function flush(final) {
    scheduled = 0;
    if (!queue.length || (final !== true && (busy || !ready()))) return;
    if (final !== true && first()) return post([queue.shift()]);
    while (queue.length) beacon(queue.splice(0, 50));
  }

  // -- commands
  function track(name, custom, o, cb) {
    if (typeof o == 'function') { cb = o; o = null; }
    o = o || {};
    cb = cb || o.callback;
    var id = String(o.eventID || o.event_id || uuid());
    var ev = { event_name: String(name), event_id: id, event_source_url: o.url || loc.href };
    if (ref) ev.referrer_url = ref;
    // a copy: the event keeps the values it had when tracked
    if (custom && typeof custom == 'object') ev.custom = JSON.parse(JSON.stringify(custom));
    if (queue.push(ev) > 500) queue.shift();
    if (pids && pids.length < 50) pids.push(id);
    emit('relay:event', { event_name: ev.event_name, event_id: id });
    if (typeof cb == 'function') try { cb(id); } catch (e) { /* the site's callback */ }
    later();
    return id;
  }
  function run(a) {
    if (a[0] == 'track') return track(a[1], a[2], a[3], a[4]);
    if (a[0] == 'identify') user = a[1] ? pick(a[1], USER, user) : {};
    else if (a[0] == 'consent') { manual = Object.assign(manual || {}, a[1]); later(); }
    else if (w.console) console.warn('relay: unknown command', a[0]);
  }
  var api = function () { return run(arguments); };
  api.loaded = 1;
  w.relay = api;

  // -- engagement: ms visible with input in the last `idle` ms, max scroll %; sent once per page
  // view (pids: its event ids, null once sent)
  function page() {
    pids = [];
    eng = depth = 0;
    act = tick = Date.now();
  }
  page();
  function acc() {
    var now = Date.now(), h = d.documentElement.scrollHeight;
    if (vis) eng += Math.max(0, Math.min(now, act + idle) - tick);
    tick = now;
    depth = Math.max(depth, Math.min(100, Math.round((w.scrollY + w.innerHeight) * 100 / h) || 0));
  }
  function engage() {
    var p = pids;
    if (!engaged || !p || !p[0]) return;
    acc();
    pids = null;
    track('PageEngagement', { engaged_seconds: Math.round(eng / 1000), scroll_depth: depth, page_event_ids: p },
      { eventID: p[0] + ':engagement', url: last });
  }
  if (engaged) {
    'keydown pointerdown pointermove scroll'.split(' ').forEach(function (t) {
      w.addEventListener(t, function () {
        acc();
        act = tick;
      }, true);
    });
  }

  // single-page apps: a new path or query via the history API is a new page view
  function navigated() {
    var h = href();
    if (h == last) return;
    engage();
    page();
    ref = last;
    last = h;
    track('PageView');
  }
  if (auto) {
    ['pushState', 'replaceState'].forEach(function (m) {
      var orig = hist[m];
      hist[m] = function () {
        var r = orig.apply(this, arguments);
        navigated();
        return r;
      };
    });
    w.addEventListener('popstate', navigated);
    track('PageView');
  }
  var q = (old && old.q) || [];
  for (var i = 0; i < q.length; i++) run(q[i]);
  // leaving the page: hand everything still queued to sendBeacon, which outlives the page
  w.addEventListener('pagehide', function () { engage(); flush(true); });
  d.addEventListener('visibilitychange', function () {
    acc();
    vis = d.visibilityState != 'hidden';
    if (vis) act = tick;
    else { engage(); flush(true); }
  });
})(window, document);
