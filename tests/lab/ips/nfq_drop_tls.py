"""An inline "IPS" that breaks TLS: an NFQUEUE consumer that drops TLS handshakes.

usage: nfq_drop_tls.py --queue 0 [--port 443 ...] [--accept-all]

An nft rule such as `tcp dport 443 queue num 0` hands each matching packet to
queue 0 and the kernel holds it until a program answers with a verdict. This
program is that answer: it drops TCP segments whose payload starts with 0x16
(a TLS handshake record: ClientHello, ServerHello, ...), so TLS never
completes, and accepts everything else. --port limits the drops to those
source or destination ports; --accept-all passes everything (a harmless IPS).

Stdlib only: it speaks netlink itself instead of using libnetfilter_queue.
Constants carry the names of linux/netfilter/nfnetlink{,_queue}.h.
"""

import argparse
import errno
import ipaddress
import os
import signal
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFNETLINK_V0 = 0
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND, NFQNL_CFG_CMD_PF_BIND, NFQNL_CFG_CMD_PF_UNBIND = 1, 2, 3, 4
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_MASK, NFQA_CFG_FLAGS = 1, 2, 4, 5
NFQA_CFG_F_FAIL_OPEN = 0x1
NFQNL_COPY_PACKET = 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_PAYLOAD = 1, 2, 10
NLA_TYPE_MASK = 0x3FFF  # attribute type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits
NF_DROP, NF_ACCEPT = 0, 1

IPPROTO_TCP = 6
TLS_HANDSHAKE = 0x16  # first byte of a TLS record carrying a handshake message
COPY_RANGE = 0xFFFF  # copy whole packets (up to 64 KiB) to user space


def attr(kind, data):
    """One netlink attribute: u16 length, u16 type (host order), data padded to 4 bytes."""
    size = 4 + len(data)
    return struct.pack("=HH", size, kind) + data + b"\0" * (-size % 4)


def parse_attrs(data):
    attrs = {}
    while len(data) >= 4:
        size, kind = struct.unpack_from("=HH", data)
        if size < 4:
            break
        attrs[kind & NLA_TYPE_MASK] = data[4:size]
        data = data[(size + 3) & ~3 :]
    return attrs


class Queue:
    """One NFQUEUE number, bound over a NETLINK_NETFILTER socket."""

    def __init__(self, number):
        self.number = number
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # room for bursts
        self.sock.bind((0, 0))  # port id 0: the kernel picks one

    def send(self, msg_type, family, *attrs):
        # nfgenmsg: family, version, res_id (the queue number, big-endian)
        body = struct.pack("!BBH", family, NFNETLINK_V0, self.number) + b"".join(attrs)
        header = struct.pack("=IHHII", 16 + len(body), NFNL_SUBSYS_QUEUE << 8 | msg_type, NLM_F_REQUEST, 0, 0)
        self.sock.send(header + body)

    def command(self, cmd, family=socket.AF_UNSPEC):
        self.send(NFQNL_MSG_CONFIG, family, attr(NFQA_CFG_CMD, struct.pack("!BxH", cmd, family)))

    def bind(self):
        # Kernels before 3.8 need the per-family handler (re)bound; newer ones ignore these two.
        for family in (socket.AF_INET, socket.AF_INET6):
            self.command(NFQNL_CFG_CMD_PF_UNBIND, family)
            self.command(NFQNL_CFG_CMD_PF_BIND, family)
        self.command(NFQNL_CFG_CMD_BIND)
        params = attr(NFQA_CFG_PARAMS, struct.pack("!IB", COPY_RANGE, NFQNL_COPY_PACKET))
        # fail-open off: if we fall behind, the kernel drops rather than lets packets past the IPS
        mask = attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN))
        self.send(NFQNL_MSG_CONFIG, socket.AF_UNSPEC, params, mask, attr(NFQA_CFG_FLAGS, struct.pack("!I", 0)))

    def unbind(self):
        self.command(NFQNL_CFG_CMD_UNBIND)

    def verdict(self, packet_id, verdict):
        self.send(NFQNL_MSG_VERDICT, socket.AF_UNSPEC, attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id)))

    def packets(self):
        """Yield (packet id, IP packet) for each queued packet in one read."""
        try:
            data = self.sock.recv(COPY_RANGE + 4096)
        except OSError as error:
            if error.errno != errno.ENOBUFS:
                raise
            print("warning: receive buffer overrun, the kernel dropped queued packets", flush=True)
            return
        while len(data) >= 16:
            size, msg_type = struct.unpack_from("=IH", data)
            if size < 16:
                break
            if msg_type == NLMSG_ERROR:  # errors come back even unasked, e.g. EPERM: queue taken
                code = struct.unpack_from("=i", data, 16)[0]
                if code:
                    raise OSError(-code, os.strerror(-code))
            elif msg_type == NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET:
                attrs = parse_attrs(data[20:size])  # after nlmsghdr (16 bytes) and nfgenmsg (4)
                packet_id = struct.unpack_from("!I", attrs[NFQA_PACKET_HDR])[0]
                yield packet_id, attrs.get(NFQA_PAYLOAD, b"")
            data = data[(size + 3) & ~3 :]


def tls_handshake(packet):
    """(src, sport, dst, dport) if the packet is TCP whose payload starts a TLS handshake, else None."""
    try:
        if packet[0] >> 4 == 4:
            header, proto = (packet[0] & 0x0F) * 4, packet[9]
            if struct.unpack_from("!H", packet, 6)[0] & 0x1FFF:
                return None  # a later fragment: no TCP header in it
            end = struct.unpack_from("!H", packet, 2)[0]
            src, dst = packet[12:16], packet[16:20]
        elif packet[0] >> 4 == 6:
            header, proto = 40, packet[6]  # extension headers are not walked: such packets pass
            end = 40 + struct.unpack_from("!H", packet, 4)[0]
            src, dst = packet[8:24], packet[24:40]
        else:
            return None
        if proto != IPPROTO_TCP:
            return None
        sport, dport = struct.unpack_from("!HH", packet, header)
        payload = header + (packet[header + 12] >> 4) * 4  # TCP data offset, in 32-bit words
        if payload >= min(end, len(packet)) or packet[payload] != TLS_HANDSHAKE:
            return None
    except (IndexError, struct.error):
        return None  # truncated or garbled: not ours to judge
    return ipaddress.ip_address(src), sport, ipaddress.ip_address(dst), dport


def endpoint(address, port):
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def main():
    parser = argparse.ArgumentParser(description="NFQUEUE consumer that drops TLS handshake records.")
    parser.add_argument("--queue", type=int, default=0, help="queue number (nft: queue num N)")
    parser.add_argument("--port", type=int, action="append", help="only drop TLS on this source/destination port")
    parser.add_argument("--accept-all", action="store_true", help="pass everything (pass-through IPS)")
    args = parser.parse_args()

    # SIGTERM (systemd stop, kill) becomes SystemExit so the `finally` below unbinds.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    queue = Queue(args.queue)
    counts = {NF_ACCEPT: 0, NF_DROP: 0}
    queue.bind()
    mode = "accept-all" if args.accept_all else "drop TLS handshakes"
    print(f"nfq_drop_tls: queue {args.queue}, {mode}, ports {args.port or 'any'}", flush=True)
    try:
        while True:
            for packet_id, packet in queue.packets():
                flow = tls_handshake(packet)
                if flow and args.port and not {flow[1], flow[3]} & set(args.port):
                    flow = None  # TLS, but not on a port we police
                if flow:
                    action = "pass" if args.accept_all else "drop"
                    print(f"{action} TLS {endpoint(*flow[:2])} -> {endpoint(*flow[2:])}", flush=True)
                verdict = NF_DROP if flow and not args.accept_all else NF_ACCEPT
                counts[verdict] += 1
                queue.verdict(packet_id, verdict)
    except KeyboardInterrupt:
        pass
    except OSError as error:  # e.g. EPERM: another program holds this queue
        sys.exit(f"nfq_drop_tls: queue {args.queue}: {error}")
    finally:
        queue.unbind()
        print(f"nfq_drop_tls: stopped, accepted {counts[NF_ACCEPT]}, dropped {counts[NF_DROP]}", flush=True)


if __name__ == "__main__":
    main()
