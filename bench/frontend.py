"""Benchmark: the mtls_frontend NGINX configuration against the alternatives.

Everything runs on 127.0.0.1 of this machine. In one run, interleaved and
repeated, it measures keepalive request throughput and p50/p99 latency (with
a client certificate, through bench/tlsload.c) through:

  ours     NGINX rendered from roles/mtls_frontend/templates/frontend.conf.j2
  haproxy  Debian's HAProxy with the same TLS and client-certificate checks
  naive    ours without upstream keepalive, as copied samples are
  self     an NGINX TLS+mTLS server answering by itself (TLS cost, no proxy hop)
  direct   the upstream itself, plain HTTP

plus mTLS handshakes per second (openssl s_time, timed from outside): full
with ECDSA P-256 keys (the role's default, used by every target above) and
with RSA-2048 ("ours-rsa", the same server with RSA keys), and resumed with
ECDSA, over TLS 1.3 and 1.2 (a TLS 1.3 resumption still makes a new ECDHE
key exchange); and server CPU per request and per handshake. It prints min/median/max and ratios, the
ours/haproxy ratio per round too, so its spread shows.

usage: python3 bench/frontend.py [--rounds 5] [--seconds 5] [--conns 4] [--explain]
Needs nginx, haproxy, openssl, gcc and libssl-dev (`make bench` installs them).
"""

import argparse
import importlib.util
import ipaddress
import os
import pathlib
import re
import signal
import statistics
import subprocess
import tempfile
import time

import jinja2
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROLE = ROOT / "roles" / "mtls_frontend"
PORTS = {
    "ours": 18443,
    "naive": 18444,
    "self": 18445,
    "haproxy": 18446,
    "ours-rsa": 18447,
    "ours-nolog": 18448,
    "ours-bare": 18449,
    "direct": 18080,
}
TARGETS = ["ours", "haproxy", "naive", "self", "direct"]
# --explain: where ours spends more CPU per request than HAProxy. ours-nolog
# is ours without its JSON access log; ours-bare also without the rate
# limit, the authorisation check and the identity headers - NGINX's proxy path.
EXPLAIN = ["ours-nolog", "ours-bare"]


def load_make_cert():
    """The lab's certificate builder (tests/lab/make_cert.py), shared with the tests."""
    spec = importlib.util.spec_from_file_location("make_cert", ROOT / "tests" / "lab" / "make_cert.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_pki(directory, prefix, new_key):
    """A CA, a server and a client certificate, keys from new_key(), as <prefix>ca.crt etc."""
    make_cert = load_make_cert()

    def issue(subject, issuer_name, public_key, signing_key, *, ca=False, san=None, usage=None):
        return make_cert.build(
            make_cert.name(subject),
            make_cert.name(issuer_name),
            public_key,
            signing_key,
            ca=ca,
            days=2,
            sans=san or (),
            usage=usage,
        )

    def save(name, *items):
        with open(directory / (prefix + name), "wb") as handle:
            for item in items:
                if hasattr(item, "private_bytes"):
                    handle.write(make_cert.pem_key(item))
                else:
                    handle.write(item.public_bytes(serialization.Encoding.PEM))

    keys = {role: new_key() for role in ("ca", "server", "client")}
    ca = issue("bench CA", "bench CA", keys["ca"].public_key(), keys["ca"], ca=True)
    server = issue(
        "127.0.0.1",
        "bench CA",
        keys["server"].public_key(),
        keys["ca"],
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
    )
    client = issue(
        "bench client", "bench CA", keys["client"].public_key(), keys["ca"], usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    save("ca.crt", ca)
    save("server.crt", server)
    save("server.key", keys["server"])
    save("server.pem", server, keys["server"])
    save("client.crt", client)
    save("client.key", keys["client"])


def render_ours(directory, port):
    variables = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    variables.update(yaml.safe_load((ROLE / "vars" / "main.yml").read_text()))
    variables.update(
        {
            "mtls_frontend_listen_address": "127.0.0.1",
            "mtls_frontend_port": port,
            "mtls_frontend_server_names": ["127.0.0.1"],
            "mtls_frontend_upstreams": ["127.0.0.1:18080"],
            "mtls_frontend_server_cert": str(directory / "server.crt"),
            "mtls_frontend_server_key": str(directory / "server.key"),
            "mtls_frontend_client_ca": str(directory / "ca.crt"),
            "mtls_frontend_crl": "",
            # What the role's sessions.yml and authz.yml write, for a CRL-less
            # frontend without an allowlist.
            "__mtls_frontend_sessions_conf": str(directory / "tls-sessions.conf"),
            "__mtls_frontend_authz_conf": str(directory / "authz.conf"),
            "__mtls_frontend_authz": {"enabled": False, "certificates": []},
            # The benchmark measures capacity, so the rate limit must not be what it hits.
            "mtls_frontend_rate": "1000000r/s",
            "mtls_frontend_burst": 1000000,
        }
    )
    (directory / "tls-sessions.conf").write_text("ssl_session_cache shared:aicontainers_tls:10m;\n")
    template = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), trim_blocks=True)
    (directory / "authz.conf").write_text(template.get_template("authz.conf.j2").render(**variables))
    text = template.get_template("frontend.conf.j2").render(**variables)
    return text.replace("/var/log/nginx/aicontainers-access.json", str(directory / "access.json"))


def naive_from(ours, port):
    """The same server without upstream keepalive: HTTP/1.0 and a new upstream connection per request."""
    text = re.sub(r"\n\s*keepalive \d+;", "", ours)
    text = text.replace("proxy_http_version 1.1;", "").replace('proxy_set_header Connection "";', "")
    text = text.replace("upstream aicontainers", "upstream aicontainers_naive").replace(
        "proxy_pass http://aicontainers;", "proxy_pass http://aicontainers_naive;"
    )
    text = re.sub(r"^log_format.*?;\n", "", text, flags=re.S | re.M)
    text = re.sub(r"^include .*authz.conf;\n", "", text, flags=re.M)
    text = re.sub(r"^limit_req_zone .*\n", "", text, flags=re.M)
    text = text.replace("zone=aicontainers_tls", "zone=aicontainers_tls_naive")
    return text.replace("127.0.0.1:{0} ssl".format(PORTS["ours"]), "127.0.0.1:{0} ssl".format(port))


def rsa_from(ours, directory):
    """Our server block again, with RSA-2048 keys and certificates, on its own port."""
    server = ours[ours.index("\nserver {") :]
    for name in ("server.crt", "server.key", "ca.crt"):
        server = server.replace(str(directory / name), str(directory / ("rsa-" + name)))
    return server.replace("127.0.0.1:{0} ssl".format(PORTS["ours"]), "127.0.0.1:{0} ssl".format(PORTS["ours-rsa"]))


def without_features(ours, target):
    """Our server block again without the access log (ours-nolog), or without every per-request feature (ours-bare)."""
    server = ours[ours.index("\nserver {") :].replace("access_log /", "access_log off; # /")
    if target == "ours-bare":
        server = re.sub(r"limit_req zone=\S+ burst=\S+ nodelay;", "", server)
        server = re.sub(r"if \(\$aicontainers_authz != allow\) \{\s*return 403;\s*\}", "", server)
        server = re.sub(r"proxy_set_header X-\S+ \S+;", "", server)
    return server.replace("127.0.0.1:{0} ssl".format(PORTS["ours"]), "127.0.0.1:{0} ssl".format(PORTS[target]))


def nginx_conf(directory, ours):
    self_server = """
server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/server.crt; ssl_certificate_key {d}/server.key;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:self_tls:10m; ssl_session_tickets on;
    ssl_client_certificate {d}/ca.crt; ssl_verify_client on;
    access_log off;
    location / {{ return 200 "ok\\n"; }}
}}
server {{
    listen 127.0.0.1:{up};
    access_log off;
    keepalive_requests 1000000;
    location / {{ return 200 "ok\\n"; }}
}}
""".format(port=PORTS["self"], up=PORTS["direct"], d=directory)
    return """
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    default_type text/plain;
    keepalive_requests 1000000;
{ours}
{ours_rsa}
{explain}
{naive}
{self_server}
}}
""".format(
        d=directory,
        ours=ours,
        ours_rsa=rsa_from(ours, directory),
        explain="".join(without_features(ours, target) for target in EXPLAIN),
        naive=naive_from(ours, PORTS["naive"]),
        self_server=self_server,
    )


def haproxy_conf(directory):
    ciphers = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__mtls_frontend_profiles"]["intermediate"]
    return """
global
    # Our machines cap open files at 20000 (no CAP_SYS_RESOURCE to raise it).
    maxconn 4000
    pidfile {d}/haproxy.pid
    ssl-default-bind-ciphers {ciphers}
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend mtls
    bind 127.0.0.1:{port} ssl crt {d}/server.pem ca-file {d}/ca.crt verify required
    http-request set-header X-Client-DN %{{+Q}}[ssl_c_s_dn]
    http-request set-header X-Client-Serial %[ssl_c_serial,hex]
    default_backend replicas
backend replicas
    http-reuse always
    server upstream 127.0.0.1:{up}
""".format(d=directory, ciphers=ciphers["ciphers"].strip(), port=PORTS["haproxy"], up=PORTS["direct"])


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = pathlib.Path("/proc/{0}/stat".format(pid)).read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError):
            pass
    return total


def server_pids(pidfile):
    """The server's master process (from its pid file) and its workers."""
    master = pidfile.read_text().split()[0]
    children = subprocess.run(["pgrep", "-P", master], capture_output=True, text=True, check=False).stdout
    return [int(master)] + [int(pid) for pid in children.split()]


def load(tool, directory, target, seconds, conns):
    cert, key = (str(directory / "client.crt"), str(directory / "client.key")) if target != "direct" else ("-", "-")
    pids = server_pids(directory / ("haproxy.pid" if target == "haproxy" else "nginx.pid"))
    before = cpu_seconds(pids)
    output = subprocess.run(
        [tool, "127.0.0.1", str(PORTS[target]), "/", str(seconds), str(conns), cert, key],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(item.split("=") for item in output.split())
    values = {k: float(v) for k, v in values.items()}
    values["cpu_us_per_request"] = (cpu_seconds(pids) - before) * 1e6 / max(values["requests"], 1)
    return values


def handshakes(directory, target, reuse, seconds, version=None):
    prefix = "rsa-" if target == "ours-rsa" else ""
    args = [
        "openssl",
        "s_time",
        "-connect",
        "127.0.0.1:{0}".format(PORTS[target]),
        "-time",
        str(seconds),
        "-cert",
        str(directory / (prefix + "client.crt")),
        "-key",
        str(directory / (prefix + "client.key")),
        "-www",
        "/",
    ]
    args.append("-reuse" if reuse else "-new")
    if version:
        args.append(version)
    pids = server_pids(directory / "nginx.pid")
    before = cpu_seconds(pids)
    start = time.monotonic()
    output = subprocess.run(args, capture_output=True, text=True, check=False).stdout
    elapsed = time.monotonic() - start
    counts = [int(n) for n in re.findall(r"^(\d+) connections in", output, flags=re.M)]
    count = counts[-1] if counts else 0
    # The client shares the machine: the server's CPU per handshake is the cost that is ours.
    return {"rate": count / elapsed, "cpu_us": (cpu_seconds(pids) - before) * 1e6 / max(count, 1)}


def spread(values):
    return "min {0:>9.1f}  median {1:>9.1f}  max {2:>9.1f}".format(min(values), statistics.median(values), max(values))


def report(results, shakes, args, targets):
    print(
        "{0} rounds x {1} s, {2} keepalive connections, client certificate on every TLS target, ECDSA P-256".format(
            args.rounds, args.seconds, args.conns
        )
    )
    line = "{0:<8} req/s {1}   p50 {2:>6.0f} us  p99 {3:>6.0f} us  cpu {4:>5.1f} us/req  non-2xx+errors {5:.0f}"
    for target in targets:
        runs = results[target]
        print(
            line.format(
                target,
                spread([run["rps"] for run in runs]),
                statistics.median(run["p50_us"] for run in runs),
                statistics.median(run["p99_us"] for run in runs),
                statistics.median(run["cpu_us_per_request"] for run in runs),
                sum(run["non2xx"] + run["errors"] for run in runs),
            )
        )
    for kind, values in shakes.items():
        print(
            "handshakes/s {0:<14} {1}   server cpu {2:>6.0f} us/handshake".format(
                kind,
                spread([value["rate"] for value in values]),
                statistics.median(value["cpu_us"] for value in values),
            )
        )
    median = {
        key: {target: statistics.median(run[key] for run in results[target]) for target in targets}
        for key in ("rps", "p99_us", "cpu_us_per_request")
    }
    per_round = [
        ours["rps"] / haproxy["rps"] for ours, haproxy in zip(results["ours"], results["haproxy"], strict=True)
    ]
    print(
        "ratio ours/haproxy  {0:.2f}  (goal >= 1.1, p99 and cpu no worse; per round {1}; "
        "p99 {2:.0f} vs {3:.0f} us, cpu {4:.1f} vs {5:.1f} us/req)".format(
            median["rps"]["ours"] / median["rps"]["haproxy"],
            " ".join("{0:.2f}".format(ratio) for ratio in per_round),
            median["p99_us"]["ours"],
            median["p99_us"]["haproxy"],
            median["cpu_us_per_request"]["ours"],
            median["cpu_us_per_request"]["haproxy"],
        )
    )
    rate = {kind: statistics.median(value["rate"] for value in values) for kind, values in shakes.items()}
    cpu = {kind: statistics.median(value["cpu_us"] for value in values) for kind, values in shakes.items()}
    print(
        "ratio full ECDSA/RSA   {0:.2f}  (goal >= 2; server cpu per handshake RSA/ECDSA {1:.2f})".format(
            rate["full ECDSA"] / max(rate["full RSA"], 1), cpu["full RSA"] / max(cpu["full ECDSA"], 1)
        )
    )
    print(
        "ratio resumed/full     {0:.2f}  (goal >= 2, ECDSA, TLS 1.3; server cpu full/resumed {1:.2f})".format(
            rate["resumed ECDSA"] / max(rate["full ECDSA"], 1), cpu["full ECDSA"] / max(cpu["resumed ECDSA"], 1)
        )
    )
    print(
        "ratio resumed/full     {0:.2f}  (ECDSA, TLS 1.2; server cpu full/resumed {1:.2f})".format(
            rate["resumed TLS1.2"] / max(rate["full TLS1.2"], 1), cpu["full TLS1.2"] / max(cpu["resumed TLS1.2"], 1)
        )
    )
    if args.explain:
        cpu = median["cpu_us_per_request"]
        print(
            "explain: cpu us/req ours {0:.1f}, without the access log {1:.1f}, without any per-request feature {2:.1f},"
            " haproxy {3:.1f}".format(cpu["ours"], cpu["ours-nolog"], cpu["ours-bare"], cpu["haproxy"])
        )
    rps = median["rps"]
    print(
        "context: ours/naive {0:.2f}  ours/self {1:.2f}  ours/direct {2:.2f}".format(
            rps["ours"] / rps["naive"], rps["ours"] / rps["self"], rps["ours"] / rps["direct"]
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--conns", type=int, default=4)
    parser.add_argument("--explain", action="store_true", help="also measure ours without its per-request features")
    args = parser.parse_args()
    directory = pathlib.Path(tempfile.mkdtemp(prefix="aich-bench-"))
    make_pki(directory, "", lambda: ec.generate_private_key(ec.SECP256R1()))
    make_pki(directory, "rsa-", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    tool = str(directory / "tlsload")
    subprocess.run(["gcc", "-O2", "-o", tool, str(ROOT / "bench" / "tlsload.c"), "-lssl", "-lcrypto"], check=True)
    (directory / "nginx.conf").write_text(nginx_conf(directory, render_ours(directory, PORTS["ours"])))
    (directory / "haproxy.cfg").write_text(haproxy_conf(directory))
    subprocess.run(["nginx", "-t", "-q", "-c", str(directory / "nginx.conf")], check=True)
    targets = TARGETS + (EXPLAIN if args.explain else [])
    results = {target: [] for target in targets}
    shakes = {"full ECDSA": [], "full RSA": [], "resumed ECDSA": [], "full TLS1.2": [], "resumed TLS1.2": []}
    try:
        subprocess.run(["nginx", "-c", str(directory / "nginx.conf")], check=True)
        subprocess.run(["haproxy", "-D", "-f", str(directory / "haproxy.cfg")], check=True)
        time.sleep(1)
        for _round in range(args.rounds):  # interleaved: drift hits every target alike
            for target in targets:
                results[target].append(load(tool, directory, target, args.seconds, args.conns))
            shakes["full ECDSA"].append(handshakes(directory, "ours", reuse=False, seconds=args.seconds))
            shakes["full RSA"].append(handshakes(directory, "ours-rsa", reuse=False, seconds=args.seconds))
            shakes["resumed ECDSA"].append(handshakes(directory, "ours", reuse=True, seconds=args.seconds))
            shakes["full TLS1.2"].append(
                handshakes(directory, "ours", reuse=False, seconds=args.seconds, version="-tls1_2")
            )
            shakes["resumed TLS1.2"].append(
                handshakes(directory, "ours", reuse=True, seconds=args.seconds, version="-tls1_2")
            )
    finally:
        for pidfile in ("nginx.pid", "haproxy.pid"):
            try:
                os.kill(int((directory / pidfile).read_text().split()[0]), signal.SIGTERM)
            except (OSError, ValueError):
                pass
    report(results, shakes, args, targets)


if __name__ == "__main__":
    main()
