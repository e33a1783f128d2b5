/* A fake consent management platform for the demo shop: a minimal IAB TCF v2.2 `__tcfapi`
 * (ping, addEventListener, removeEventListener, getTCData) and Google consent mode through
 * gtag('consent', ...). The choice is kept in localStorage ("shop-consent": accept | reject), as a
 * real CMP keeps it in a cookie; a returning visitor gets eventStatus "tcloaded" at once. */
(function () {
  'use strict';
  var KEY = 'shop-consent';
  // TCF 2.2 strings (policy version 5, CMP 31): ACCEPT consents to purposes 1-11 (CONTRACT §4.1);
  // REJECT is the same string with every purpose, legitimate interest and special feature cleared.
  var TC = {
    accept: 'CQuci4AQuci4AAfACBENCNFsAP_gAEPgAAYgLuQAYAAgu4AAAAA.ILuQAYAAgu4A',
    reject: 'CQuci4AQuci4AAfACBENCNFgAAAAAAAAAAYgLuQAYAAgu4AAAAA.ILuQAYAAgu4A',
  };
  var GCM = ['ad_storage', 'ad_user_data', 'ad_personalization', 'analytics_storage'];
  var choice = null;
  try { choice = localStorage.getItem(KEY); } catch (e) { /* storage blocked: ask every time */ }
  if (!TC[choice]) choice = null;
  var listeners = {}, nextId = 1;

  window.dataLayer = window.dataLayer || [];
  window.gtag = window.gtag || function () { window.dataLayer.push(arguments); };
  function modes(value) {
    var out = {};
    GCM.forEach(function (k) { out[k] = value; });
    return out;
  }
  var defaults = modes('denied');
  defaults.wait_for_update = 500;
  window.gtag('consent', 'default', defaults);
  if (choice) window.gtag('consent', 'update', modes(choice === 'accept' ? 'granted' : 'denied'));

  function purposes() {
    var out = {};
    for (var i = 1; i <= 11; i++) out[i] = choice === 'accept';
    return out;
  }
  function tcData(status, listenerId) {
    return {
      tcString: choice ? TC[choice] : '', gdprApplies: true, eventStatus: status, cmpStatus: 'loaded',
      cmpId: 31, cmpVersion: 2, tcfPolicyVersion: 5, isServiceSpecific: true, useNonStandardTexts: false,
      publisherCC: 'DE', purposeOneTreatment: false, listenerId: listenerId,
      purpose: { consents: purposes(), legitimateInterests: {} }, vendor: { consents: {}, legitimateInterests: {} },
      specialFeatureOptins: {}, publisher: { consents: {}, legitimateInterests: {}, restrictions: {} },
    };
  }
  function status() { return choice ? 'tcloaded' : 'cmpuishown'; }

  window.__tcfapi = function (command, version, callback, parameter) {
    if (typeof callback !== 'function') return;
    if (command === 'ping') {
      callback({
        gdprApplies: true, cmpLoaded: true, cmpStatus: 'loaded', displayStatus: choice ? 'hidden' : 'visible',
        apiVersion: '2.2', cmpVersion: 2, cmpId: 31, gvlVersion: 141, tcfPolicyVersion: 5,
      });
    } else if (command === 'addEventListener') {
      var id = nextId++;
      listeners[id] = callback;
      callback(tcData(status(), id), true);
    } else if (command === 'removeEventListener') {
      var known = parameter in listeners;
      delete listeners[parameter];
      callback(known);
    } else if (command === 'getTCData') {
      callback(tcData(status()), true);
    } else {
      callback(null, false);
    }
  };

  function choose(value) {
    choice = value;
    try { localStorage.setItem(KEY, value); } catch (e) { /* kept for this page only */ }
    window.gtag('consent', 'update', modes(value === 'accept' ? 'granted' : 'denied'));
    Object.keys(listeners).forEach(function (id) { listeners[id](tcData('useractioncomplete', +id), true); });
    banner(false);
  }
  function banner(show) {
    var el = document.getElementById('cmp-banner');
    if (el) el.hidden = !show;
  }
  window.shopCmp = {
    choose: choose,
    reset: function () {
      try { localStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
      location.reload();
    },
  };
  document.addEventListener('DOMContentLoaded', function () {
    document.getElementById('cmp-accept').addEventListener('click', function () { choose('accept'); });
    document.getElementById('cmp-reject').addEventListener('click', function () { choose('reject'); });
    document.getElementById('reset-consent').addEventListener('click', window.shopCmp.reset);
    banner(!choice);
  });
})();
