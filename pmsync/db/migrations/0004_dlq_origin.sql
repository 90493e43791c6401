-- One DLQ row per failed raw message and stage. A worker that crashes after sending a reject
-- but before committing its offset sends the reject again (at-least-once); the sink folds that
-- repeat into the first row. `origin` is the raw message's position (topic:partition:offset)
-- plus the stage; a replayed message is a new raw message, so its failure is a new row.
ALTER TABLE dlq_messages ADD COLUMN origin text;
CREATE UNIQUE INDEX dlq_messages_origin ON dlq_messages (origin);
