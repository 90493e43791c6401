#!/bin/sh
# The official image's kafka-consumer-groups.sh (the compose test reads a group's members with it).
exec java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp "/opt/kafka/libs/*" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@"
