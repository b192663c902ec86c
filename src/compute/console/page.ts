// The console page the proxy serves as vnc_lite.html, vnc_auto.html (Nova's historical name) and
// vnc.html. No npm release of noVNC ships its HTML pages or its app/ tree (the 1.4.0 package has
// only the browser modules core/ and vendor/pako), so this is our own small page in the manner of
// noVNC's vnc_lite.html: it reads the same query parameters (host, port, path, password, encrypt,
// view_only, scale, resize), connects at once, and shows the state in a status bar.
//
// For scripts and monitoring, <html data-state> follows the connection: connecting, connected,
// disconnected, failed (and unsupported when the browser cannot load the module).

export const CONSOLE_PAGE = `<!DOCTYPE html>
<html lang="en" data-state="loading">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Console</title>
<style>
  html { height: 100%; }
  body { margin: 0; height: 100%; display: flex; flex-direction: column; background-color: dimgrey; }
  #noVNC_status_bar { background-color: #6e84a3; color: white; font: bold 12px Helvetica, Arial, sans-serif;
    padding: 6px 5px 4px 5px; border-bottom: 1px outset; display: flex; align-items: center; }
  #noVNC_status { flex: 1; text-align: center; }
  #sendCtrlAltDelButton { border: 1px outset; padding: 2px 5px; cursor: pointer; background: #6e84a3; color: white; font: inherit; }
  #screen { flex: 1; overflow: hidden; }
</style>
<script type="module">
  import RFB from './core/rfb.js';

  const params = new URLSearchParams(window.location.search);
  const param = (name, dflt) => (params.has(name) ? params.get(name) : dflt);
  const flag = (name) => ['1', 'true', 'yes', 'on'].includes(String(param(name, '')).toLowerCase());

  const root = document.documentElement;
  const statusEl = document.getElementById('noVNC_status');
  function status(state, text) {
    root.dataset.state = state;
    statusEl.textContent = text;
  }

  // The websocket URL: this page's own host and port unless given, and the path exactly as noVNC's
  // vnc_lite.html builds it, so that Nova's path=%3Ftoken%3D<token> gives ws://host:port/?token=<token>.
  const secure = params.has('encrypt') ? flag('encrypt') : window.location.protocol === 'https:';
  const host = param('host', window.location.hostname);
  const port = param('port', window.location.port);
  const path = param('path', 'websockify');
  const hostPart = host.includes(':') && !host.startsWith('[') ? '[' + host + ']' : host;
  const url = (secure ? 'wss' : 'ws') + '://' + hostPart + (port ? ':' + port : '') + '/' + path.replace(/^\\//, '');

  let desktopName = '';
  status('connecting', 'Connecting');
  const rfb = new RFB(document.getElementById('screen'), url, { credentials: { password: param('password', '') } });
  rfb.viewOnly = flag('view_only');
  rfb.scaleViewport = flag('scale');
  rfb.resizeSession = flag('resize');
  rfb.addEventListener('desktopname', (e) => { desktopName = e.detail.name; document.title = desktopName; });
  rfb.addEventListener('connect', () => status('connected', 'Connected' + (desktopName ? ' to ' + desktopName : '')));
  rfb.addEventListener('disconnect', (e) => {
    if (e.detail.clean) status('disconnected', 'Disconnected');
    else status('failed', 'Something went wrong, connection is closed');
  });
  rfb.addEventListener('credentialsrequired', () => {
    const password = window.prompt('Password required:');
    rfb.sendCredentials({ password: password ?? '' });
  });
  rfb.addEventListener('securityfailure', (e) => status('failed', 'Security failure: ' + (e.detail.reason || e.detail.status)));
  document.getElementById('sendCtrlAltDelButton').addEventListener('click', () => { rfb.sendCtrlAltDel(); rfb.focus(); });
  window.rfb = rfb;
</script>
<script nomodule>
  document.addEventListener('DOMContentLoaded', function () {
    document.documentElement.setAttribute('data-state', 'unsupported');
    document.getElementById('noVNC_status').textContent = 'This browser cannot run the console (no ES modules)';
  });
</script>
</head>
<body>
  <div id="noVNC_status_bar">
    <div id="noVNC_status">Loading</div>
    <button type="button" id="sendCtrlAltDelButton">Send CtrlAltDel</button>
  </div>
  <div id="screen"></div>
</body>
</html>
`;
