"""Benchmark: the mtls_frontend NGINX configuration against the alternatives.

Everything runs on 127.0.0.1 of this machine. In one run, interleaved and
repeated, it measures keepalive request throughput and p50/p99 latency (with
a client certificate, through bench/tlsload.c) through:

  ours     NGINX rendered from roles/mtls_frontend/templates/frontend.conf.j2
  haproxy  Debian's HAProxy with the same TLS and client-certificate checks
  naive    ours without upstream keepalive, as copied samples are
  self     an NGINX TLS+mTLS server answering by itself (TLS cost, no proxy hop)
  direct   the upstream itself, plain HTTP

plus full vs resumed mTLS handshakes per second (openssl s_time, timed from
outside) and server CPU per request. It prints min/median/max and ratios.

usage: python3 bench/frontend.py [--rounds 3] [--seconds 5] [--conns 4]
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
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROLE = ROOT / "roles" / "mtls_frontend"
PORTS = {"ours": 18443, "naive": 18444, "self": 18445, "haproxy": 18446, "direct": 18080}
TARGETS = ["ours", "haproxy", "naive", "self", "direct"]


def load_make_cert():
    """The lab's certificate builder (tests/lab/make_cert.py), shared with the tests."""
    spec = importlib.util.spec_from_file_location("make_cert", ROOT / "tests" / "lab" / "make_cert.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_pki(directory):
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

    def save(path, *items):
        with open(path, "wb") as handle:
            for item in items:
                if isinstance(item, rsa.RSAPrivateKey):
                    handle.write(make_cert.pem_key(item))
                else:
                    handle.write(item.public_bytes(serialization.Encoding.PEM))

    keys = {role: rsa.generate_private_key(public_exponent=65537, key_size=2048) for role in ("ca", "server", "client")}
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
    save(directory / "ca.crt", ca)
    save(directory / "server.crt", server)
    save(directory / "server.key", keys["server"])
    save(directory / "server.pem", server, keys["server"])
    save(directory / "client.crt", client)
    save(directory / "client.key", keys["client"])


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
            # What the role's sessions.yml writes, for a CRL-less frontend.
            "__mtls_frontend_sessions_conf": str(directory / "tls-sessions.conf"),
            # The benchmark measures capacity, so the rate limit must not be what it hits.
            "mtls_frontend_rate": "1000000r/s",
            "mtls_frontend_burst": 1000000,
        }
    )
    (directory / "tls-sessions.conf").write_text("ssl_session_cache shared:aicontainers_tls:10m;\n")
    template = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), trim_blocks=True)
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
    text = re.sub(r"^limit_req_zone .*\n", "", text, flags=re.M)
    text = text.replace("zone=aicontainers_tls", "zone=aicontainers_tls_naive")
    return text.replace("127.0.0.1:{0} ssl".format(PORTS["ours"]), "127.0.0.1:{0} ssl".format(port))


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
{naive}
{self_server}
}}
""".format(d=directory, ours=ours, naive=naive_from(ours, PORTS["naive"]), self_server=self_server)


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


def handshakes(directory, reuse, seconds):
    args = [
        "openssl",
        "s_time",
        "-connect",
        "127.0.0.1:{0}".format(PORTS["ours"]),
        "-time",
        str(seconds),
        "-cert",
        str(directory / "client.crt"),
        "-key",
        str(directory / "client.key"),
        "-www",
        "/",
    ]
    args.append("-reuse" if reuse else "-new")
    start = time.monotonic()
    output = subprocess.run(args, capture_output=True, text=True, check=False).stdout
    elapsed = time.monotonic() - start
    counts = [int(n) for n in re.findall(r"^(\d+) connections in", output, flags=re.M)]
    return (counts[-1] if counts else 0) / elapsed


def spread(values):
    return "min {0:>9.1f}  median {1:>9.1f}  max {2:>9.1f}".format(min(values), statistics.median(values), max(values))


def report(results, full, resumed, args):
    print(
        "{0} rounds x {1} s, {2} keepalive connections, client certificate on every TLS target".format(
            args.rounds, args.seconds, args.conns
        )
    )
    line = "{0:<8} req/s {1}   p50 {2:>6.0f} us  p99 {3:>6.0f} us  cpu {4:>5.1f} us/req  non-2xx+errors {5:.0f}"
    for target in TARGETS:
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
    print("handshakes/s full    {0}".format(spread(full)))
    print("handshakes/s resumed {0}".format(spread(resumed)))
    rps = {target: statistics.median(run["rps"] for run in results[target]) for target in TARGETS}
    p99 = {target: statistics.median(run["p99_us"] for run in results[target]) for target in TARGETS}
    print(
        "ratio ours/haproxy  {0:.2f}  (goal >= 1.1; p99 ours {1:.0f} us vs haproxy {2:.0f} us)".format(
            rps["ours"] / rps["haproxy"], p99["ours"], p99["haproxy"]
        )
    )
    print("ratio ours/naive    {0:.2f}  (goal >= 2.5)".format(rps["ours"] / rps["naive"]))
    print("ratio ours/self     {0:.2f}  (goal >= 0.7)".format(rps["ours"] / rps["self"]))
    print("ratio ours/direct   {0:.2f}".format(rps["ours"] / rps["direct"]))
    ratio = statistics.median(resumed) / max(statistics.median(full), 1)
    print("ratio resumed/full  {0:.2f}  (goal >= 3)".format(ratio))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--conns", type=int, default=4)
    args = parser.parse_args()
    directory = pathlib.Path(tempfile.mkdtemp(prefix="aich-bench-"))
    make_pki(directory)
    tool = str(directory / "tlsload")
    subprocess.run(["gcc", "-O2", "-o", tool, str(ROOT / "bench" / "tlsload.c"), "-lssl", "-lcrypto"], check=True)
    (directory / "nginx.conf").write_text(nginx_conf(directory, render_ours(directory, PORTS["ours"])))
    (directory / "haproxy.cfg").write_text(haproxy_conf(directory))
    subprocess.run(["nginx", "-t", "-q", "-c", str(directory / "nginx.conf")], check=True)
    results = {target: [] for target in TARGETS}
    full, resumed = [], []
    try:
        subprocess.run(["nginx", "-c", str(directory / "nginx.conf")], check=True)
        subprocess.run(["haproxy", "-D", "-f", str(directory / "haproxy.cfg")], check=True)
        time.sleep(1)
        for _round in range(args.rounds):  # interleaved: drift hits every target alike
            for target in TARGETS:
                results[target].append(load(tool, directory, target, args.seconds, args.conns))
            full.append(handshakes(directory, reuse=False, seconds=args.seconds))
            resumed.append(handshakes(directory, reuse=True, seconds=args.seconds))
    finally:
        for pidfile in ("nginx.pid", "haproxy.pid"):
            try:
                os.kill(int((directory / pidfile).read_text().split()[0]), signal.SIGTERM)
            except (OSError, ValueError):
                pass
    report(results, full, resumed, args)


if __name__ == "__main__":
    main()
