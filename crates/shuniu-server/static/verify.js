// The in-browser licence verifier (扫码核验): takes a licence's QR text apart and checks it
// exactly as `shuniu licence verify` does, with nothing but the hub's trust key, which the page
// carries, and the signed trust and status lists, which it keeps in localStorage so that it
// works offline until the lists' time to live runs out. SM2 is sm-crypto's (npm, vendored);
// QR images and the camera are read with jsQR (npm, vendored).
(function () {
  'use strict';
  var PREFIX = 'SNL1:';
  var ALG_SM2_SM3 = -65701;
  var CLAIM_LICENCE = -70001;
  var STORE = 'shuniu.verifier.lists';
  var page = document.getElementById('verifier');
  if (!page) return;
  var trustKey = page.getAttribute('data-trust-key');
  var en = document.documentElement.lang === 'en';

  // Reasons, with the codes the hub's verifiers use.
  var REASONS = {
    LICENCE_MALFORMED: ['不是有效的电子证照二维码', 'not an electronic licence QR code'],
    LICENCE_BAD_SIGNATURE: ['电子印章签名验证失败，证照内容可能被篡改', 'the e-seal signature does not verify: the licence may have been altered'],
    LICENCE_UNKNOWN_SEAL: ['签章所用电子印章不在信任列表中', 'the e-seal that signed it is not in the trust list'],
    LICENCE_SEAL_EXPIRED: ['签章时电子印章不在有效期内', 'the e-seal was not valid when it signed'],
    LICENCE_REVOKED: ['证照已被吊销、撤销或注销（换发后旧证注销）', 'the licence has been revoked or cancelled (a re-issue cancels the old one)'],
    LICENCE_SUSPENDED: ['证照已被暂停使用', 'the licence is suspended'],
    LICENCE_EXPIRED: ['证照已过有效期', 'the licence has expired'],
    LICENCE_STATUS_STALE: ['证照状态列表已过期，请联网更新后再核验', 'the status list is past its time to live: connect to update it'],
    LICENCE_UNTRUSTED_LIST: ['信任列表的签名无法验证', "the trust list's signature does not verify"],
    LICENCE_NO_LISTS: ['尚未取得信任列表和状态列表，请联网打开本页一次', 'no trust or status lists yet: open this page once while connected']
  };
  function reject(code) {
    var e = new Error(code);
    e.code = code;
    return e;
  }

  // ---- Base45 (RFC 9285) ----
  var B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
  function base45(text) {
    var out = [];
    for (var i = 0; i < text.length; i += 3) {
      var chunk = text.substr(i, 3);
      var n = 0;
      for (var j = chunk.length - 1; j >= 0; j--) {
        var v = B45.indexOf(chunk[j]);
        if (v < 0) throw reject('LICENCE_MALFORMED');
        n = n * 45 + v;
      }
      if (chunk.length === 3) {
        if (n > 0xffff) throw reject('LICENCE_MALFORMED');
        out.push(n >> 8, n & 0xff);
      } else if (chunk.length === 2) {
        if (n > 0xff) throw reject('LICENCE_MALFORMED');
        out.push(n);
      } else {
        throw reject('LICENCE_MALFORMED');
      }
    }
    return new Uint8Array(out);
  }

  // ---- zlib and GZIP through the browser's own DecompressionStream ----
  function inflate(bytes, format) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format));
    return new Response(stream).arrayBuffer().then(function (b) { return new Uint8Array(b); });
  }

  // ---- CBOR (RFC 8949): the subset COSE and CWT use ----
  function Tagged(tag, value) { this.tag = tag; this.value = value; }
  function cborDecode(bytes) {
    var pos = 0;
    var view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    function need(n) { if (pos + n > bytes.length) throw reject('LICENCE_MALFORMED'); }
    function arg(info) {
      if (info < 24) return info;
      var n = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
      if (!n) throw reject('LICENCE_MALFORMED');
      need(n);
      var v = 0;
      for (var i = 0; i < n; i++) v = v * 256 + bytes[pos + i];
      pos += n;
      return v;
    }
    function item(depth) {
      if (depth > 32) throw reject('LICENCE_MALFORMED');
      need(1);
      var b = bytes[pos++], major = b >> 5, info = b & 31;
      if (major === 7) {
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22 || info === 23) return null;
        if (info === 25) { need(2); var h = view.getUint16(pos); pos += 2; return half(h); }
        if (info === 26) { need(4); var f = view.getFloat32(pos); pos += 4; return f; }
        if (info === 27) { need(8); var d = view.getFloat64(pos); pos += 8; return d; }
        throw reject('LICENCE_MALFORMED');
      }
      var n = arg(info);
      switch (major) {
        case 0: return n;
        case 1: return -1 - n;
        case 2: need(n); var bs = bytes.slice(pos, pos + n); pos += n; return bs;
        case 3: need(n); var s = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(pos, pos + n)); pos += n; return s;
        case 4: var a = []; for (var i = 0; i < n; i++) a.push(item(depth + 1)); return a;
        case 5: var m = new Map(); for (var k = 0; k < n; k++) { var key = item(depth + 1); m.set(key, item(depth + 1)); } return m;
        case 6: return new Tagged(n, item(depth + 1));
      }
      throw reject('LICENCE_MALFORMED');
    }
    function half(h) {
      var e = (h >> 10) & 31, f = h & 1023, s = h >> 15 ? -1 : 1;
      if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
      if (e === 31) return f ? NaN : s * Infinity;
      return s * Math.pow(2, e - 15) * (1 + f / 1024);
    }
    var v = item(0);
    if (pos !== bytes.length) throw reject('LICENCE_MALFORMED');
    return v;
  }
  // Encodes the COSE Sig_structure: an array of a text and byte strings.
  function cborHead(major, n) {
    if (n < 24) return [(major << 5) | n];
    if (n < 256) return [(major << 5) | 24, n];
    if (n < 65536) return [(major << 5) | 25, n >> 8, n & 255];
    return [(major << 5) | 26, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  function sigStructure(protectedBytes, payload) {
    var text = new TextEncoder().encode('Signature1');
    var parts = [cborHead(4, 4), cborHead(3, text.length), Array.from(text),
      cborHead(2, protectedBytes.length), Array.from(protectedBytes),
      cborHead(2, 0),
      cborHead(2, payload.length), Array.from(payload)];
    return new Uint8Array([].concat.apply([], parts));
  }

  function hex(bytes) {
    return Array.from(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  function b64url(text) {
    var s = text.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function sm2Verify(message, signatureHex, publicKeyHex, signerId) {
    return window.sm2.doVerifySignature(message, signatureHex, publicKeyHex,
      { der: false, hash: true, userId: signerId });
  }

  // ---- The signed lists ----
  function openSigned(doc) {
    var payload;
    try { payload = b64url(doc.payload); } catch (e) { throw reject('LICENCE_UNTRUSTED_LIST'); }
    if (!sm2Verify(payload, doc.signature, trustKey, '1234567812345678')) {
      throw reject('LICENCE_UNTRUSTED_LIST');
    }
    return JSON.parse(new TextDecoder().decode(payload));
  }
  function loadLists(docs) {
    var trust = openSigned(docs.trust);
    var seals = {};
    trust.seals.forEach(function (s) { seals[s.kid.toLowerCase()] = s; });
    var status = {};
    return Promise.all(['revocation', 'suspension'].map(function (purpose) {
      var cred = openSigned(docs[purpose]);
      var subject = cred.credentialSubject;
      if (subject.statusPurpose !== purpose || subject.encodedList[0] !== 'u') {
        throw reject('LICENCE_UNTRUSTED_LIST');
      }
      return inflate(b64url(subject.encodedList.slice(1)), 'gzip').then(function (bits) {
        status[purpose] = { bits: bits, validUntil: new Date(cred.validUntil) };
      });
    })).then(function () {
      return { issuer: trust.issuer, seals: seals, status: status, fetchedAt: docs.fetchedAt };
    });
  }
  function fetchLists() {
    function get(path) {
      return fetch(path, { cache: 'no-store' }).then(function (r) {
        if (!r.ok) throw new Error(path + ': ' + r.status);
        return r.json();
      });
    }
    return Promise.all([
      get('/api/v1/licences/trust-list'),
      get('/api/v1/licences/status/revocation'),
      get('/api/v1/licences/status/suspension')
    ]).then(function (d) {
      var docs = { trust: d[0], revocation: d[1], suspension: d[2], fetchedAt: new Date().toISOString() };
      return loadLists(docs).then(function (lists) {
        try { localStorage.setItem(STORE, JSON.stringify(docs)); } catch (e) { /* private mode */ }
        return lists;
      });
    });
  }
  function storedLists() {
    var text = null;
    try { text = localStorage.getItem(STORE); } catch (e) { text = null; }
    if (!text) return Promise.reject(reject('LICENCE_NO_LISTS'));
    return loadLists(JSON.parse(text));
  }
  // Online: fresh lists; offline: the stored ones.
  var lists = null;
  // Lists younger than a minute are used as they are; otherwise the hub is asked again, and
  // without a connection the last lists stand (in memory, else in storage).
  function currentLists() {
    if (lists && Date.now() - new Date(lists.fetchedAt).getTime() < 60000) return Promise.resolve(lists);
    return fetchLists().catch(function (e) {
      if (e.code === 'LICENCE_UNTRUSTED_LIST') throw e;
      return lists || storedLists();
    }).then(function (l) { lists = l; showLists(l); return l; });
  }

  // ---- Verification, in the order the hub's verifier checks ----
  function verify(text, now) {
    text = text.trim();
    if (text.indexOf(PREFIX) !== 0) return Promise.reject(reject('LICENCE_MALFORMED'));
    var deflated;
    try { deflated = base45(text.slice(PREFIX.length)); } catch (e) { return Promise.reject(e); }
    return currentLists().then(function (l) {
      return inflate(deflated, 'deflate').catch(function () { throw reject('LICENCE_MALFORMED'); })
        .then(function (cose) { return check(l, cose, now); });
    });
  }
  function check(l, cose, now) {
    var tagged = cborDecode(cose);
    if (!(tagged instanceof Tagged) || tagged.tag !== 18 || !Array.isArray(tagged.value) || tagged.value.length !== 4) {
      throw reject('LICENCE_MALFORMED');
    }
    var protectedBytes = tagged.value[0], payload = tagged.value[2], signature = tagged.value[3];
    if (!(protectedBytes instanceof Uint8Array) || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
      throw reject('LICENCE_MALFORMED');
    }
    var header = cborDecode(protectedBytes);
    if (!(header instanceof Map) || header.get(1) !== ALG_SM2_SM3 || !(header.get(4) instanceof Uint8Array)) {
      throw reject('LICENCE_MALFORMED');
    }
    var cwt = cborDecode(payload);
    var claims = cwt instanceof Map ? cwt.get(CLAIM_LICENCE) : null;
    if (!(claims instanceof Map) || typeof cwt.get(6) !== 'number') throw reject('LICENCE_MALFORMED');
    var seal = l.seals[hex(header.get(4))];
    if (!seal) throw reject('LICENCE_UNKNOWN_SEAL');
    if (!sm2Verify(sigStructure(protectedBytes, payload), hex(signature), seal.public_key, seal.signer_id)) {
      throw reject('LICENCE_BAD_SIGNATURE');
    }
    var issuedAt = new Date(cwt.get(6) * 1000);
    var from = Math.floor(new Date(seal.valid_from).getTime() / 1000) * 1000;
    if (issuedAt.getTime() < from || issuedAt > new Date(seal.valid_until)) throw reject('LICENCE_SEAL_EXPIRED');
    var index = claims.get('si');
    if (typeof index !== 'number' || index < 0) throw reject('LICENCE_MALFORMED');
    var until = null;
    [['revocation', 'LICENCE_REVOKED'], ['suspension', 'LICENCE_SUSPENDED']].forEach(function (p) {
      var list = l.status[p[0]];
      if (!list || now > list.validUntil) throw reject('LICENCE_STATUS_STALE');
      var byte = list.bits[Math.floor(index / 8)] || 0;
      if (byte & (0x80 >> (index % 8))) throw reject(p[1]);
      until = until && until < list.validUntil ? until : list.validUntil;
    });
    var validUntil = claims.get('vu');
    // The licence's dates are civil dates in Beijing.
    var today = new Date(now.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 10);
    if (typeof validUntil === 'string' && today > validUntil) throw reject('LICENCE_EXPIRED');
    return { claims: claims, seal: seal, issuedAt: issuedAt, statusValidUntil: until };
  }

  // ---- The page ----
  var form = document.getElementById('verify-form');
  var input = document.getElementById('verify-text');
  var result = document.getElementById('verify-result');
  var listsNote = document.getElementById('verify-lists');
  function t(zh, english) { return en ? english : zh; }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function showLists(l) {
    if (!listsNote) return;
    var until = l.status.revocation.validUntil;
    listsNote.textContent = t('信任列表与状态列表取得于 ', 'Lists fetched ') + new Date(l.fetchedAt).toLocaleString() +
      t('，离线可用至 ', '; usable offline until ') + until.toLocaleString();
    listsNote.setAttribute('data-ready', 'true');
  }
  function show(outcome) {
    result.innerHTML = '';
    result.hidden = false;
    if (outcome.error) {
      var code = outcome.error.code || 'LICENCE_MALFORMED';
      var words = REASONS[code] || REASONS.LICENCE_MALFORMED;
      result.className = 'verify-outcome invalid';
      result.setAttribute('data-valid', 'false');
      result.setAttribute('data-code', code);
      result.appendChild(el('p', { 'class': 'verdict' }, '✗ ' + t('核验未通过', 'Not valid')));
      result.appendChild(el('p', {}, t(words[0], words[1]) + ' [' + code + ']'));
      return;
    }
    var c = outcome.ok.claims;
    result.className = 'verify-outcome valid';
    result.setAttribute('data-valid', 'true');
    result.setAttribute('data-code', 'OK');
    result.appendChild(el('p', { 'class': 'verdict' }, '✓ ' + t('证照有效', 'Valid licence') + '：' + (c.get('tn') || '')));
    var dl = el('dl', { 'class': 'licence-fields' });
    function row(label, value) {
      dl.appendChild(el('dt', {}, label));
      dl.appendChild(el('dd', {}, value === undefined || value === null ? '' : String(value)));
    }
    row(t('持证主体', 'Holder'), c.get('hn'));
    row(t('证件号码', 'Identifier'), c.get('hi'));
    (c.get('f') || []).forEach(function (f) { row(f[0], f[1]); });
    row(t('颁发机构', 'Issued by'), c.get('a'));
    row(t('签发日期', 'Issued on'), c.get('d'));
    row(t('有效期至', 'Valid until'), c.get('vu') || t('长期', 'No end'));
    row(t('电子印章', 'E-seal'), outcome.ok.seal.seal_name);
    row(t('证照标识', 'Licence identifier'), c.get('id'));
    result.appendChild(dl);
    result.appendChild(el('p', { 'class': 'meta' }, t('核验依据的状态列表有效至 ', 'Status lists valid until ') +
      outcome.ok.statusValidUntil.toLocaleString()));
  }
  function run(text) {
    return verify(text, new Date()).then(function (ok) { show({ ok: ok }); },
      function (error) { show({ error: error }); });
  }
  form.addEventListener('submit', function (ev) { ev.preventDefault(); run(input.value); });

  // A photo or screenshot of a QR code.
  var file = document.getElementById('verify-image');
  function decodeImage(source, width, height) {
    var canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    var ctx = canvas.getContext('2d');
    ctx.drawImage(source, 0, 0, width, height);
    var data = ctx.getImageData(0, 0, width, height);
    return window.jsQR(data.data, width, height);
  }
  if (file) {
    file.addEventListener('change', function () {
      if (!file.files || !file.files[0]) return;
      createImageBitmap(file.files[0]).then(function (img) {
        var code = decodeImage(img, img.width, img.height);
        if (!code) { show({ error: reject('LICENCE_MALFORMED') }); return; }
        input.value = code.data;
        run(code.data);
      }, function () { show({ error: reject('LICENCE_MALFORMED') }); });
    });
  }

  // The camera, where the device has one and the page may use it.
  var cameraButton = document.getElementById('verify-camera');
  var video = document.getElementById('verify-video');
  if (cameraButton && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    cameraButton.hidden = false;
    cameraButton.addEventListener('click', function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } }).then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        video.play();
        var stop = function () { stream.getTracks().forEach(function (tr) { tr.stop(); }); video.hidden = true; };
        var tick = function () {
          if (video.readyState >= 2 && video.videoWidth) {
            var code = decodeImage(video, video.videoWidth, video.videoHeight);
            if (code && code.data.indexOf(PREFIX) === 0) {
              stop();
              input.value = code.data;
              run(code.data);
              return;
            }
          }
          if (!video.hidden) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }, function () {
        show({ error: reject('LICENCE_MALFORMED') });
      });
    });
  }

  // Offline once loaded: a service worker keeps this page and its scripts.
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/verify-sw.js', { scope: '/verify' }).catch(function () { /* http on another host */ });
  }
  currentLists().catch(function (e) {
    if (listsNote) {
      var words = REASONS[e.code] || REASONS.LICENCE_NO_LISTS;
      listsNote.textContent = t(words[0], words[1]);
      listsNote.setAttribute('data-ready', 'false');
    }
  });
  window.shuniuVerifier = { verify: verify, refresh: function () { lists = null; return currentLists(); } };
})();
