// Lantern echo client. Every piece of message text goes into the page through textContent,
// never as markup, and the page's Content-Security-Policy allows no inline script anyway.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const statusText = $('status');
  const statusBox = statusText.parentElement;
  const form = $('form');
  const input = $('message');
  const sendButton = $('send');
  const binaryBox = $('binary');
  const list = $('messages');
  const reconnectButton = $('reconnect');
  const compression = $('compression');
  const retryText = $('retry');

  // Beside this page on the host and port that served it (so a proxy may serve both under a path
  // prefix such as /lantern/); wss: when the page came over https:.
  const wsURL = new URL('ws', location.href);
  wsURL.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = wsURL.href;
  $('endpoint').textContent = url;

  // The access token, when the link carries one as #token=…: a fragment never reaches the
  // server's log or a proxy. It goes with the upgrade as a subprotocol item beside 'lantern'
  // (a page cannot set headers on a WebSocket); without one no subprotocol is offered.
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const protocols = token ? ['lantern', 'lantern.token.' + token] : [];
  const NOT_ALLOWED = 'Not allowed: open the link with its #token=… part';
  const WRONG_TOKEN = 'Not allowed: the #token=… part of this link is wrong';
  const LIMITED = 'Not allowed: too many wrong tokens from here, wait a little';

  const RETRY_MIN_MS = 500;     // first retry after about half a second ...
  const RETRY_MAX_MS = 15000;   // ... doubling up to this cap
  const STABLE_MS = 5000;       // a connection open this long resets the backoff; one closed sooner
                                // (1001 while stopping, 1008, 1009, 1013 at once) keeps it growing
  const CONNECT_TIMEOUT_MS = 10000;  // an attempt not open by then is abandoned: a vanished box or a
                                     // silent listener would hold it until the OS gives up (~2 min)
  const HINT_AFTER = 3;         // attempts in a row that never opened before the status says more
  const HINT = 'the server may be down or refusing this page; its log says why';
  const MAX_ITEMS = 500;        // the conversation keeps this many entries
  const MAX_PENDING = 1000;     // sent messages still waiting for their echo
  const HEX_PREVIEW = 32;       // bytes shown of a binary message
  const CLOSE_CODES = {         // RFC 6455 §7.4.1 names of the codes a user may meet
    1000: 'normal', 1001: 'going away', 1002: 'protocol error', 1003: 'unsupported data',
    1006: 'no close frame', 1007: 'invalid data', 1008: 'policy violation', 1009: 'message too big',
    1011: 'server error', 1013: 'try again later',
  };

  let socket = null;            // the current WebSocket, null while waiting to retry
  let attempt = 0;              // attempts since the last connection that stayed open STABLE_MS, for the backoff
  let unopened = 0;             // attempts in a row that never opened, for the hint
  let openedAt = 0;             // Date.now() when the current connection opened
  let retryTimer = 0;
  let countdownTimer = 0;
  let connectTimer = 0;         // abandons the current attempt after CONNECT_TIMEOUT_MS
  let pending = [];             // {data, sentAt}: our messages in send order, to time their echoes
  let wasOpen = false;          // whether the socket that just closed had opened (log it once)
  let refusal = '';             // why the server refuses this page's token, while it does
  const encoder = new TextEncoder();

  // The status text is a live region; the retry countdown beside it is not, so a screen
  // reader hears "closed (code 1006, …)" once rather than every second. The countdown calls
  // this every second with the same status, and rewriting even the same text may be announced
  // again: each piece is written only when it changes.
  function setStatus(state, text, retry) {
    if (statusText.textContent !== text) statusText.textContent = text;
    if (retryText.textContent !== (retry || '')) retryText.textContent = retry || '';
    if (statusText.dataset.state !== state) statusText.dataset.state = state;
    if (statusBox.dataset.state !== state) statusBox.dataset.state = state;
    sendButton.disabled = state !== 'open';
    // Reconnect stays usable while connecting: it is how a user abandons an attempt that hangs.
    reconnectButton.disabled = false;
  }

  function connect() {
    clearTimeout(retryTimer);
    clearInterval(countdownTimer);
    clearTimeout(connectTimer);
    setStatus('connecting', attempt > 0 ? 'connecting (attempt ' + (attempt + 1) + ')' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(url, protocols);
    } catch (error) {
      scheduleRetry('could not connect: ' + error.message);
      return;
    }
    ws.binaryType = 'arraybuffer';
    socket = ws;
    // TCP may connect while the upgrade is never answered; the browser would then wait for the
    // OS to give up. Abandon the attempt ourselves and retry as after any failure.
    connectTimer = setTimeout(() => {
      if (socket !== ws) return;
      socket = null;  // its close event is now ignored
      ws.close();
      notOpened('no answer from the server within ' + CONNECT_TIMEOUT_MS / 1000 + ' s');
    }, CONNECT_TIMEOUT_MS);
    ws.onopen = () => {
      if (socket !== ws) return;
      clearTimeout(connectTimer);
      unopened = 0;
      refusal = '';
      openedAt = Date.now();
      pending = [];
      wasOpen = true;
      setStatus('open', 'open');
      showCompression(ws.extensions);
      addItem('system', 'Connected to ' + url);
      send('Connection open!', false);
    };
    ws.onmessage = (event) => {
      if (socket === ws) received(event.data);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      clearTimeout(connectTimer);
      socket = null;
      pending = [];
      showCompression(null);
      const name = CLOSE_CODES[event.code];
      const why = 'closed (code ' + event.code + (name ? ', ' + name : '') + (event.reason ? ': ' + event.reason : '') + ')';
      // Failed retries only update the status line; the conversation notes each lost connection.
      if (!wasOpen) {
        notOpened(why);
        return;
      }
      addItem('system', 'Connection ' + why);
      wasOpen = false;
      // Only a connection that lasted resets the backoff: a server that accepts and closes at
      // once (stopping, or refusing every page's first message) is not hit every 0.5 s forever.
      if (Date.now() - openedAt >= STABLE_MS) attempt = 0;
      scheduleRetry(why);
    };
  }

  // A page learns nothing about a refused upgrade (the server's Origin rule answers 403, yet the
  // page sees code 1006 as for a server that is down), so after a few say where to look.
  // One kind of refusal the page can learn about: a server with an access token answers
  // /metrics without one 401 (429 while this address is held back), so a HEAD of it, sent
  // without the token (a missing token is not counted as a guess), tells a token refusal from
  // a server that is down.
  function notOpened(why) {
    unopened += 1;
    scheduleRetry(unopened >= HINT_AFTER ? why + '; ' + HINT : why);
    const retrying = attempt;
    fetch(new URL('metrics', location.href), { method: 'HEAD', cache: 'no-store' }).then((response) => {
      if (socket || attempt !== retrying) return;  // a newer attempt is under way
      refusal = response.status === 401 ? (token ? WRONG_TOKEN : NOT_ALLOWED) : response.status === 429 ? LIMITED : '';
      if (refusal) setStatus('closed', refusal, retryText.textContent);
    }, () => {});
  }

  // Capped exponential backoff with ±20 % jitter, so a restarted server is not hit by every
  // page on the LAN in the same millisecond.
  function scheduleRetry(why) {
    const base = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt);
    const delay = Math.min(RETRY_MAX_MS, base * (0.8 + Math.random() * 0.4));
    attempt += 1;
    const due = Date.now() + delay;
    const tick = () => {
      const seconds = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      setStatus('closed', refusal || why, 'retrying in ' + seconds + ' s');
    };
    tick();
    countdownTimer = setInterval(tick, 1000);
    retryTimer = setTimeout(connect, delay);
  }

  function showCompression(extensions) {
    compression.dataset.extensions = extensions || '';
    if (extensions === null) {
      compression.textContent = '–';
      compression.title = '';
    } else {
      compression.textContent = /permessage-deflate/.test(extensions) ? 'permessage-deflate' : 'off';
      compression.title = extensions || 'no extension negotiated';
    }
  }

  function send(text, asBinary) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    const data = asBinary ? encoder.encode(text) : text;
    socket.send(data);
    pending.push({ data, sentAt: performance.now() });
    if (pending.length > MAX_PENDING) pending.shift();
    addItem('sent', data, 'sent');
    return true;
  }

  // An echo server answers in order, so the echo is normally the oldest message still pending.
  // One that comes back changed (a lone surrogate is sent as U+FFFD) never matches: take the
  // first pending message that does, and drop the older ones with it, or none gets an RTT again.
  function received(data) {
    const payload = typeof data === 'string' ? data : new Uint8Array(data);
    const index = pending.findIndex((entry) => sameData(entry.data, payload));
    if (index >= 0) {
      const match = pending[index];
      pending.splice(0, index + 1);
      addItem('received', payload, 'echo', performance.now() - match.sentAt);
    } else {
      addItem('received', payload, 'from server');
    }
  }

  function sameData(a, b) {
    if (typeof a === 'string' || typeof b === 'string') return a === b;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function hexPreview(bytes) {
    const shown = Array.from(bytes.subarray(0, HEX_PREVIEW), (b) => b.toString(16).padStart(2, '0'));
    return shown.join(' ') + (bytes.length > HEX_PREVIEW ? ' …' : '');
  }

  function clock(date) {
    const two = (n) => String(n).padStart(2, '0');
    return two(date.getHours()) + ':' + two(date.getMinutes()) + ':' + two(date.getSeconds());
  }

  function span(className, text) {
    const element = document.createElement('span');
    element.className = className;
    element.textContent = text;
    return element;
  }

  // kind: 'sent' | 'received' | 'system'; data: string or Uint8Array; rtt in ms for echoes.
  function addItem(kind, data, label, rtt) {
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
    const item = document.createElement('li');
    item.className = kind;
    if (typeof data === 'string') {
      item.append(span('text', data));
    } else {
      item.classList.add('binary');
      const count = data.length + (data.length === 1 ? ' byte' : ' bytes');
      item.append(span('text', 'binary, ' + count + (data.length ? ': ' + hexPreview(data) : '')));
    }
    const now = new Date();
    const info = span('info', '');
    const time = document.createElement('time');
    time.dateTime = now.toISOString();
    time.textContent = clock(now);
    info.append(time);
    if (label) info.append(span('label', label));
    if (rtt !== undefined) info.append(span('rtt', 'RTT ' + (rtt < 10 ? rtt.toFixed(1) : Math.round(rtt)) + ' ms'));
    item.append(info);
    list.append(item);
    while (list.childElementCount > MAX_ITEMS) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  // The form's submit covers both the Send button and Enter in the input; while the socket is
  // not open the Send button is disabled, which also turns Enter off (HTML implicit submission).
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value === '') return;
    if (send(input.value, binaryBox.checked)) input.value = '';
    input.focus();
  });

  // Drops the current socket, open or still connecting, and connects at once with the backoff reset.
  function restart(reason) {
    attempt = 0;
    const old = socket;
    socket = null;  // its close event is now ignored
    wasOpen = false;  // so a failure of the next attempt is not taken for this connection's end
    if (old) old.close(1000, reason);
    connect();
  }

  reconnectButton.addEventListener('click', () => {
    if (socket) addItem('system', 'Reconnecting…');
    restart('reconnect requested');
  });

  $('clear').addEventListener('click', () => list.replaceChildren());

  // Back online (a laptop waking up, Wi-Fi returning): retry now instead of waiting, and
  // restart an attempt still connecting, which may have been begun on the lost network.
  window.addEventListener('online', () => {
    if (!socket || socket.readyState === WebSocket.CONNECTING) restart('back online');
  });

  connect();
})();
