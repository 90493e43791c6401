#!/bin/sh
# The official image's kafka-topics.sh, as the compose healthcheck calls it.
exec java -Xmx256m -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -cp "/opt/kafka/libs/*" org.apache.kafka.tools.TopicCommand "$@"
