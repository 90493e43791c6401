"""Why the stream workers run on aiokafka rather than faust-streaming: the same relay
(consume a message, produce it unchanged to another topic, commit) in both, same run, same
messages, on the running dev stack.

Run: ``.venv/bin/python bench/stream_runtime.py [--messages 100000]``

Prints messages/s for: a faust agent (``async for event in stream.events(): await
topic.send(...)``), a consume-only faust agent with ``take(2000)``, and the aiokafka batch loop
pmsync's workers use (getmany → send each → await acks → commit). It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid

BOOTSTRAP = os.environ.get("PMSYNC_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
VALUE = (b'{"reservationID":"R-1","status":"confirmed","startDate":"2026-05-01","endDate":"2026-05-04",'
         b'"guestFirstName":"Ana","guestLastName":"Silva","adults":2,"children":1,"total":"450.00",'
         b'"currency":"EUR","dateModified":"2026-04-20T08:15:00Z","roomID":"204","roomTypeName":"DBL"}')


async def produce(topic: str, count: int) -> None:
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1), NewTopic(topic + ".out", 6, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    pending = [await producer.send(topic, VALUE, key=b"hotel-%d" % (i % 1000), headers=[("pms.hotel_id", b"h")])
               for i in range(count)]
    await asyncio.gather(*pending)
    await producer.stop()


FAUST_APP = '''
import os, time, faust
T, N, MODE = os.environ["T"], int(os.environ["N"]), os.environ["MODE"]
app = faust.App("bench-" + MODE + "-" + T, broker="kafka://" + os.environ["B"], store="memory://",
                web_enabled=False, topic_allow_declare=False, consumer_auto_offset_reset="earliest")
src = app.topic(T, key_serializer="raw", value_serializer="raw")
out = app.topic(T + ".out", key_serializer="raw", value_serializer="raw")
state = {"n": 0, "t0": None}
def done(n):
    if state["t0"] is None:
        state["t0"] = time.time()
    state["n"] += n
    if state["n"] >= N:
        with open(os.environ["R"], "w") as f:
            f.write(str(N / (time.time() - state["t0"])))
        os._exit(0)
@app.agent(src)
async def relay(stream):
    if MODE == "relay":
        async for event in stream.events():
            await out.send(key=event.message.key, value=event.message.value, headers=event.message.headers)
            done(1)
    else:
        async for batch in stream.noack().take(2000, within=0.2):
            done(len(batch))
'''


def faust_rate(topic: str, count: int, mode: str) -> float:
    script = f"/tmp/pmsync_bench_faust_{uuid.uuid4().hex[:6]}.py"
    result = script + ".out"
    with open(script, "w") as f:
        f.write(FAUST_APP)
    env = {**os.environ, "T": topic, "N": str(count), "MODE": mode, "B": BOOTSTRAP, "R": result}
    subprocess.run([sys.executable, "-m", "faust", "-A", os.path.basename(script)[:-3], "worker", "-l", "warn"],
                   cwd="/tmp", env=env, timeout=1800, capture_output=True)
    with open(result) as f:
        return float(f.read())


async def aiokafka_rate(topic: str, count: int) -> float:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=BOOTSTRAP, group_id=f"bench-aio-{topic}",
                                enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=2000)
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", enable_idempotence=True,
                                linger_ms=5, max_batch_size=256 * 1024)
    await consumer.start()
    await producer.start()
    seen, started = 0, None
    while seen < count:
        batch = await consumer.getmany(timeout_ms=500, max_records=2000)
        if batch and started is None:
            started = time.time()
        pending = [await producer.send(topic + ".out", m.value, key=m.key, headers=list(m.headers))
                   for records in batch.values() for m in records]
        await asyncio.gather(*pending)
        if batch:
            await consumer.commit()
        seen += len(pending)
    rate = count / (time.time() - started)
    await consumer.stop()
    await producer.stop()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    topic = f"bench-runtime-{uuid.uuid4().hex[:6]}"
    asyncio.run(produce(topic, args.messages))
    rates = {
        "aiokafka batch loop (getmany, send, commit)": asyncio.run(aiokafka_rate(topic, args.messages)),
        "faust agent, send per event": faust_rate(topic, args.messages, "relay"),
        "faust agent, consume only, take(2000)": faust_rate(topic, args.messages, "consume"),
    }
    base = rates["aiokafka batch loop (getmany, send, commit)"]
    print(f"{args.messages:,} messages of {len(VALUE)} bytes, {os.cpu_count()} cores")
    print(f"{'runtime':<42}{'msg/s':>10}{'vs aiokafka':>13}")
    for name, rate in rates.items():
        print(f"{name:<42}{rate:>10,.0f}{rate / base:>13.2f}")


if __name__ == "__main__":
    main()
