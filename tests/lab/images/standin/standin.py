"""Stand-in for an Azure AI services ("Foundry Tools") container.

The real images cannot be pulled here and need paid keys, so the lab runs this
instead. It copies the behaviour the collection has to cope with:

* it refuses to start unless ``Eula=accept``, ``Billing=<https url>`` and
  ``ApiKey=<key>`` are given (as arguments or environment variables);
* it serves ``/``, ``/ready``, ``/status`` and one real API call
  (``POST /text/analytics/v3.1/languages``) on port 5000;
* it meters to its Billing endpoint over verified HTTPS every few seconds,
  through ``HTTP_PROXY``/``HTTPS_PROXY`` when set;
* it stops serving queries (health endpoints keep answering) once metering has
  failed for a short window, and serves again when metering succeeds;
* disconnected mode: ``DownloadLicense=True Mounts:License=/license`` (with
  Eula, Billing, ApiKey) fetches a licence file from the Billing endpoint and
  exits; ``Mounts:License=/license Mounts:Output=/output`` (with Eula only)
  then serves without metering and records usage in the output mount.

Standard library only, so the image needs nothing but python3.
"""

import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REQUIRED_SETTINGS = ("Eula", "Billing", "ApiKey")
OTHER_SETTINGS = ("DownloadLicense", "Mounts:License", "Mounts:Output")
LICENSE_FILE = "license.json"
MISSING_SETTINGS_MESSAGE = (
    "The Eula, Billing, and ApiKey options must be specified to run the container. Missing: {missing}."
)
EULA_MESSAGE = "The Eula option must be set to 'accept' to run the container."
BILLING_URL_MESSAGE = "The Billing option must be an https:// URL, got {value!r}."

LANGUAGES = {
    "English": ("en", {"the", "and", "is", "hello", "with", "world", "this", "of"}),
    "French": ("fr", {"le", "la", "et", "est", "bonjour", "avec", "monde", "ceci"}),
    "German": ("de", {"der", "die", "und", "ist", "hallo", "mit", "welt", "das"}),
    "Spanish": ("es", {"el", "los", "y", "es", "hola", "con", "mundo", "esto"}),
}


class ConfigError(ValueError):
    """The container was started without a usable Eula/Billing/ApiKey."""


def parse_settings(argv, environ):
    """Read Key=Value arguments over environment variables, as the real containers do.

    Keys are case-insensitive; ``Key:Sub=Value`` forms are kept as given.
    """
    settings = {}
    canonical = {key.lower(): key for key in REQUIRED_SETTINGS + OTHER_SETTINGS}
    for key, value in environ.items():
        if key.lower() in canonical:
            settings[canonical[key.lower()]] = value
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError("Unrecognised argument {0!r}: expected Key=Value.".format(arg))
        settings[canonical.get(key.lower(), key)] = value
    settings["mode"] = settings_mode(settings)
    required = ("Eula",) if settings["mode"] == "disconnected" else REQUIRED_SETTINGS
    missing = [key for key in required if not settings.get(key)]
    if missing:
        raise ConfigError(MISSING_SETTINGS_MESSAGE.format(missing=", ".join(missing)))
    if settings["Eula"].lower() != "accept":
        raise ConfigError(EULA_MESSAGE)
    if settings["mode"] != "disconnected":
        billing = urllib.parse.urlsplit(settings["Billing"])
        if billing.scheme != "https" or not billing.hostname:
            raise ConfigError(BILLING_URL_MESSAGE.format(value=settings["Billing"]))
    return settings


def settings_mode(settings):
    """connected (meters), download (fetches a licence and exits) or disconnected."""
    if str(settings.get("DownloadLicense", "")).lower() == "true":
        if not settings.get("Mounts:License"):
            raise ConfigError("DownloadLicense=True needs Mounts:License=<directory> to write the licence to.")
        return "download"
    if settings.get("Mounts:License"):
        return "disconnected"
    return "connected"


def detect_language(text):
    """Score each known language by how many of its common words the text holds."""
    words = {word.strip(".,;:!?\"'()").lower() for word in text.split()}
    best_name, best_hits = None, 0
    for name, (_code, vocabulary) in LANGUAGES.items():
        hits = len(words & vocabulary)
        if hits > best_hits:
            best_name, best_hits = name, hits
    if best_name is None:
        return {"name": "(Unknown)", "iso6391Name": "(Unknown)", "confidenceScore": 0.0}
    confidence = round(best_hits / max(len(words), 1), 2)
    return {
        "name": best_name,
        "iso6391Name": LANGUAGES[best_name][0],
        "confidenceScore": min(1.0, max(confidence, 0.5)),
    }


class MeteringState:
    """Whether the container may serve queries, from the history of metering calls.

    Serving requires a successful metering call within the last ``window``
    seconds. ``clock`` is injectable so the rule can be unit-tested.
    """

    def __init__(self, window, clock=time.monotonic):
        self.window = window
        self.clock = clock
        self.lock = threading.Lock()
        self.last_success = None
        self.last_error = None
        self.successes = 0
        self.failures = 0
        self.pending_queries = 0

    def record_success(self):
        with self.lock:
            self.last_success = self.clock()
            self.last_error = None
            self.successes += 1

    def record_failure(self, error):
        with self.lock:
            self.last_error = str(error)
            self.failures += 1

    def count_query(self):
        with self.lock:
            self.pending_queries += 1

    def take_pending_queries(self):
        with self.lock:
            count, self.pending_queries = self.pending_queries, 0
            return count

    def serving(self):
        with self.lock:
            return self.last_success is not None and self.clock() - self.last_success <= self.window

    def snapshot(self):
        serving = self.serving()
        with self.lock:
            age = None if self.last_success is None else round(self.clock() - self.last_success, 1)
            return {
                "billingStatus": "Valid" if serving else "Invalid",
                "serving": serving,
                "secondsSinceLastMeteringSuccess": age,
                "meteringWindowSeconds": self.window,
                "meteringSuccesses": self.successes,
                "meteringFailures": self.failures,
                "lastMeteringError": self.last_error,
            }


class DisconnectedState(MeteringState):
    """Serves without metering under a licence; usage goes to the output mount."""

    def __init__(self, licence, output_dir):
        super().__init__(window=0)
        self.licence = licence
        self.output_dir = output_dir

    def serving(self):
        return True

    def count_query(self):
        if self.output_dir:
            with self.lock, open(os.path.join(self.output_dir, "usage.jsonl"), "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"time": time.time(), "queries": 1}) + "\n")

    def snapshot(self):
        return {
            "billingStatus": "Disconnected",
            "serving": True,
            "licenseIssued": self.licence.get("issued"),
            "meteringWindowSeconds": None,
        }


def load_license(directory):
    path = os.path.join(directory, LICENSE_FILE)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        raise ConfigError(
            "Container is not licensed: no valid licence in {0}. Run it once with DownloadLicense=True "
            "Mounts:License={0} (and Eula, Billing, ApiKey) first.".format(directory)
        ) from None


def proxy_url(environ):
    """The proxy for the HTTPS billing call: HTTPS_PROXY, else HTTP_PROXY, as the real containers."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        if environ.get(name):
            return environ[name]
    return None


class Meter:
    """Sends one metering record to the Billing endpoint over verified HTTPS."""

    def __init__(self, settings, environ, kind="language", timeout=5.0):
        self.base = settings["Billing"].rstrip("/")
        self.api_key = settings["ApiKey"]
        self.kind = kind
        self.timeout = timeout
        self.instance = str(uuid.uuid4())
        context = ssl.create_default_context(cafile=environ.get("BILLING_CA_BUNDLE") or None)
        handlers = [urllib.request.HTTPSHandler(context=context)]
        proxy = proxy_url(environ)
        if proxy:
            proxy = self._with_credentials(proxy, environ.get("HTTP_PROXY_CREDS"))
            handlers.append(urllib.request.ProxyHandler({"https": proxy}))
        else:
            handlers.append(urllib.request.ProxyHandler({}))
        self.opener = urllib.request.build_opener(*handlers)

    @staticmethod
    def _with_credentials(proxy, creds):
        if not creds or "@" in proxy:
            return proxy
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        netloc = "{0}@{1}".format(creds, parts.netloc)
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def post(self, path, payload):
        """POST JSON to the Billing endpoint with the ApiKey; return the parsed answer."""
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(payload).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Ocp-Apim-Subscription-Key": self.api_key,
            },
        )
        with self.opener.open(request, timeout=self.timeout) as response:
            if response.status >= 300:
                raise OSError("billing endpoint answered HTTP {0}".format(response.status))
            return json.loads(response.read() or b"{}")

    def send(self, queries):
        self.post(
            "/metering/v1/usage",
            {
                "instance": self.instance,
                "kind": self.kind,
                "queries": queries,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )

    def download_license(self, directory):
        """Fetch a licence for disconnected use and write it (root-only) to ``directory``."""
        licence = self.post("/license/v1/download", {"instance": self.instance, "kind": self.kind})
        path = os.path.join(directory, LICENSE_FILE)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
            json.dump(licence, handle)
        return path


def metering_loop(meter, state, interval, stop):
    """Meter every ``interval`` seconds until ``stop`` is set."""
    while not stop.is_set():
        queries = state.take_pending_queries()
        try:
            meter.send(queries)
        except Exception as error:  # any failure means "could not meter"
            state.record_failure(error)
            print("metering failed: {0}".format(error), file=sys.stderr, flush=True)
        else:
            state.record_success()
        stop.wait(interval)


def make_handler(state, kind):
    class Handler(BaseHTTPRequestHandler):
        server_version = "AIContainerStandIn/1.0"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # keep request lines, never headers
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

        def _reply(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urllib.parse.urlsplit(self.path).path.rstrip("/") or "/"
            if path == "/":
                self._reply(200, {"service": "Azure AI services container stand-in", "kind": kind})
            elif path == "/_lab/headers":
                # Lab-only: lets tests see what a frontend forwarded upstream.
                self._reply(200, dict(self.headers.items()))
            elif path in ("/ready", "/ContainerReadiness"):
                self._reply(200, {"status": "ready"})
            elif path in ("/status", "/ContainerLiveness"):
                billing = state.snapshot()
                billing.update(
                    {
                        "apiStatus": "Valid" if billing["serving"] else "Invalid",
                        "apiStatusMessage": (
                            "Api Key is valid, no action needed."
                            if billing["serving"]
                            else "The container cannot reach its Billing endpoint; it does not serve "
                            "queries until metering succeeds again."
                        ),
                    }
                )
                self._reply(200, billing)
            else:
                self._reply(404, {"error": {"code": "NotFound", "message": "Resource not found."}})

        def do_POST(self):
            path = urllib.parse.urlsplit(self.path).path.rstrip("/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if path != "/text/analytics/v3.1/languages":
                self._reply(404, {"error": {"code": "NotFound", "message": "Resource not found."}})
                return
            if not state.serving():
                self._reply(
                    503,
                    {
                        "error": {
                            "code": "BillingUnavailable",
                            "message": "Container is not in a valid state: metering to the Billing "
                            "endpoint has failed, so queries are not served.",
                        }
                    },
                )
                return
            try:
                documents = json.loads(raw or b"{}")["documents"]
                results = [
                    {"id": str(doc["id"]), "detectedLanguage": detect_language(doc["text"]), "warnings": []}
                    for doc in documents
                ]
            except (ValueError, KeyError, TypeError):
                self._reply(
                    400,
                    {"error": {"code": "InvalidRequest", "message": 'Body must be {"documents": [{"id", "text"}]}.'}},
                )
                return
            state.count_query()
            self._reply(200, {"documents": results, "errors": [], "modelVersion": "standin-1"})

    return Handler


def main(argv=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    try:
        settings = parse_settings(argv, environ)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    kind = environ.get("STANDIN_KIND", "language")
    stop = threading.Event()
    if settings["mode"] == "download":
        try:
            path = Meter(settings, environ, kind=kind).download_license(settings["Mounts:License"])
        except (OSError, ValueError) as error:
            print("Licence download failed: {0}".format(error), file=sys.stderr)
            return 1
        print("Licence written to {0}".format(path), flush=True)
        return 0
    if settings["mode"] == "disconnected":
        try:
            state = DisconnectedState(load_license(settings["Mounts:License"]), settings.get("Mounts:Output"))
        except ConfigError as error:
            print(error, file=sys.stderr)
            return 1
    else:
        state = MeteringState(window=float(environ.get("METERING_WINDOW_SECONDS", "15")))
        meter = Meter(settings, environ, kind=kind)
        interval = float(environ.get("METERING_INTERVAL_SECONDS", "3"))
        threading.Thread(target=metering_loop, args=(meter, state, interval, stop), daemon=True).start()
    # PID 1 in a container gets no default SIGTERM handling: stop promptly on
    # `docker stop` instead of waiting to be killed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(environ.get("STANDIN_PORT", "5000"))
    server = ThreadingHTTPServer(("", port), make_handler(state, kind))
    print("stand-in {0} container ({1}) listening on :{2}".format(kind, settings["mode"], port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
