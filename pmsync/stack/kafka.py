"""Apache Kafka, one KRaft node (broker + controller), run from Maven Central artifacts."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from pmsync.settings import Settings
from pmsync.stack.process import StackError, apt_install, port_open, read_pid, run, stop_pid, wait_until

KAFKA_VERSION = "4.4.0"
_POM = Path(__file__).parent / "kafka-pom.xml"

log = logging.getLogger(__name__)

_SERVER_PROPERTIES = """\
# Written by `pmsync stack up`; edit settings (PMSYNC_KAFKA_PORT, …) rather than this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data_dir}
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
"""

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = warn
logger.org.name = org.apache.kafka
logger.org.level = warn
"""


class KafkaNode:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.stack_dir / "kafka"
        self.lib = self.home / "lib"
        self.data = self.home / "data"
        self.pid_file = self.home / "kafka.pid"
        self.log_file = self.home / "kafka.log"
        self.properties = self.home / "server.properties"

    # -- install -------------------------------------------------------------------------
    def install(self) -> bool:
        """Fetch the broker jars once per version; True if anything was fetched."""
        marker = self.lib / f".kafka-{KAFKA_VERSION}"
        if marker.exists():
            return False
        if not shutil.which("java") or not shutil.which("mvn"):
            apt_install("openjdk-17-jre-headless", "maven")
        if self.lib.exists():
            shutil.rmtree(self.lib)
        self.home.mkdir(parents=True, exist_ok=True)
        log.info("fetching Apache Kafka from Maven Central", extra={"version": KAFKA_VERSION})
        run(["mvn", "-q", "-B", "-f", str(_POM), f"-Dkafka.version={KAFKA_VERSION}",
             "dependency:copy-dependencies", f"-DoutputDirectory={self.lib}", "-DincludeScope=runtime"])
        marker.touch()
        return True

    def _java(self, main_class: str, *args: str) -> list[str]:
        return ["java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp", f"{self.lib}/*", main_class, *args]

    def _configure(self) -> None:
        self.properties.write_text(_SERVER_PROPERTIES.format(
            port=self.settings.kafka_port, controller_port=self.settings.kafka_controller_port,
            data_dir=self.data))
        (self.home / "log4j2.properties").write_text(_LOG4J2)
        if not (self.data / "meta.properties").exists():
            cluster_id = run(self._java("kafka.tools.StorageTool", "random-uuid")).stdout.strip().splitlines()[-1]
            run(self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.properties)))

    # -- lifecycle ------------------------------------------------------------------------
    def running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def up(self) -> bool:
        """Start the node if it is not running; True if this call started it."""
        if self.running():
            return False
        if port_open(self.settings.kafka_port):
            raise StackError(f"port {self.settings.kafka_port} is taken by a process pmsync did not "
                             "start; stop it or set PMSYNC_KAFKA_PORT")
        self.install()
        self._configure()
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(self._java("kafka.Kafka", str(self.properties)), stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        try:
            wait_until(lambda: proc.poll() is None and port_open(self.settings.kafka_port), 90,
                       f"Kafka on 127.0.0.1:{self.settings.kafka_port} (log: {self.log_file})")
            wait_until(self._answers_metadata, 60, "Kafka to answer metadata requests")
        except StackError:
            stop_pid(self.pid_file)
            raise
        return True

    def _answers_metadata(self) -> bool:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap,
                                     request_timeout_ms=3000, client_id="pmsync-stack")
        except KafkaError:
            return False
        try:
            admin.list_topics()
            return True
        except KafkaError:
            return False
        finally:
            admin.close()

    def down(self) -> bool:
        return stop_pid(self.pid_file, timeout=60)

    def status(self) -> str:
        pid = read_pid(self.pid_file)
        if pid is None:
            return "stopped"
        return f"running (pid {pid}, 127.0.0.1:{self.settings.kafka_port}, Kafka {KAFKA_VERSION})"

