"""Scan every TCP port of a host and print the open ones as a JSON list.

usage: python3 portscan.py ADDRESS [FIRST LAST]

A connection that completes is open; refused, reset or silent (dropped)
ports are not. Concurrent, so a full scan of a lab host takes seconds.
"""

import asyncio
import json
import sys

CONCURRENCY = 1000
TIMEOUT = 1.0


async def is_open(address, port, gate):
    async with gate:
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), TIMEOUT)
        except (TimeoutError, OSError):
            return False
        writer.close()
        return True


async def scan(address, first, last):
    gate = asyncio.Semaphore(CONCURRENCY)
    ports = range(first, last + 1)
    results = await asyncio.gather(*(is_open(address, port, gate) for port in ports))
    return [port for port, result in zip(ports, results, strict=True) if result]


if __name__ == "__main__":
    target = sys.argv[1]
    low, high = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (1, 65535)
    print(json.dumps(asyncio.run(scan(target, low, high))))
