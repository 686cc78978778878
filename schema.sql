-- Generated from gateway/store/tables.py by `gateway schema`; do not edit.

CREATE TABLE account (
	id SERIAL NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	parent_id INTEGER, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name), 
	FOREIGN KEY(parent_id) REFERENCES account (id)
);

CREATE TABLE datakey (
	id SERIAL NOT NULL, 
	purpose VARCHAR(10) NOT NULL, 
	row_key VARCHAR(16) NOT NULL, 
	master_key_id VARCHAR(16) NOT NULL, 
	wrapped BYTEA, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	destroyed_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (row_key)
);

CREATE INDEX ix_datakey_master_key_id ON datakey (master_key_id);

CREATE INDEX ix_datakey_purpose ON datakey (purpose);

CREATE TABLE department (
	id SERIAL NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE TABLE installationsecret (
	name VARCHAR(40) NOT NULL, 
	value BYTEA NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE blob (
	id VARCHAR(64) NOT NULL, 
	key_id INTEGER NOT NULL, 
	size INTEGER NOT NULL, 
	data BYTEA NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(key_id) REFERENCES datakey (id)
);

CREATE TABLE contact (
	id SERIAL NOT NULL, 
	email BYTEA NOT NULL, 
	email_hmac VARCHAR(64) NOT NULL, 
	name BYTEA NOT NULL, 
	key_id INTEGER, 
	row_key VARCHAR(16) NOT NULL, 
	erased_at TIMESTAMP WITH TIME ZONE, 
	account_id INTEGER NOT NULL, 
	role VARCHAR(10) NOT NULL, 
	language VARCHAR(8) NOT NULL, 
	active BOOLEAN NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (email_hmac), 
	FOREIGN KEY(key_id) REFERENCES datakey (id), 
	FOREIGN KEY(account_id) REFERENCES account (id)
);

CREATE INDEX ix_contact_account_id ON contact (account_id);

CREATE TABLE staff (
	id SERIAL NOT NULL, 
	email VARCHAR(320) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	department_id INTEGER, 
	role VARCHAR(10) NOT NULL, 
	active BOOLEAN NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	away_since TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (email), 
	FOREIGN KEY(department_id) REFERENCES department (id)
);

CREATE TABLE inbound (
	id SERIAL NOT NULL, 
	received_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	source VARCHAR(10) NOT NULL, 
	peer VARCHAR(200) NOT NULL, 
	mail_from VARCHAR(320) NOT NULL, 
	rcpt_tos TEXT NOT NULL, 
	message_id VARCHAR(998) NOT NULL, 
	message_id_generated BOOLEAN NOT NULL, 
	content_digest VARCHAR(64) NOT NULL, 
	raw BYTEA NOT NULL, 
	size INTEGER NOT NULL, 
	row_key VARCHAR(16) NOT NULL, 
	contact_id INTEGER, 
	original_sha256 VARCHAR(64) NOT NULL, 
	status VARCHAR(10) NOT NULL, 
	attempts INTEGER NOT NULL, 
	error TEXT, 
	processed_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (message_id, content_digest), 
	FOREIGN KEY(contact_id) REFERENCES contact (id)
);

CREATE INDEX ix_inbound_contact_id ON inbound (contact_id);

CREATE INDEX ix_inbound_message_id ON inbound (message_id);

CREATE INDEX ix_inbound_status ON inbound (status);

CREATE TABLE ticket (
	id SERIAL NOT NULL, 
	subject BYTEA NOT NULL, 
	row_key VARCHAR(16) NOT NULL, 
	status VARCHAR(10) NOT NULL, 
	category VARCHAR(10) NOT NULL, 
	priority VARCHAR(10) NOT NULL, 
	requester_id INTEGER NOT NULL, 
	account_id INTEGER NOT NULL, 
	department_id INTEGER, 
	assignee_id INTEGER, 
	reply_token VARCHAR(64) NOT NULL, 
	language VARCHAR(8) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	sla_due_at TIMESTAMP WITH TIME ZONE, 
	first_response_at TIMESTAMP WITH TIME ZONE, 
	forgotten_at TIMESTAMP WITH TIME ZONE, 
	reply_due_at TIMESTAMP WITH TIME ZONE, 
	resolved_at TIMESTAMP WITH TIME ZONE, 
	merged_into_id INTEGER, 
	pending_since TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	FOREIGN KEY(requester_id) REFERENCES contact (id), 
	FOREIGN KEY(account_id) REFERENCES account (id), 
	FOREIGN KEY(department_id) REFERENCES department (id), 
	FOREIGN KEY(assignee_id) REFERENCES staff (id), 
	UNIQUE (reply_token), 
	FOREIGN KEY(merged_into_id) REFERENCES ticket (id)
);

CREATE INDEX ix_ticket_account_id ON ticket (account_id);

CREATE INDEX ix_ticket_category_status ON ticket (category, status);

CREATE INDEX ix_ticket_paused ON ticket (pending_since) WHERE pending_since IS NOT NULL;

CREATE INDEX ix_ticket_requester_id ON ticket (requester_id);

CREATE INDEX ix_ticket_status_reply_due_at ON ticket (status, reply_due_at);

CREATE INDEX ix_ticket_status_resolved_at ON ticket (status, resolved_at);

CREATE INDEX ix_ticket_status_sla_due_at ON ticket (status, sla_due_at);

CREATE INDEX ix_ticket_unforgotten ON ticket (status, resolved_at) WHERE forgotten_at IS NULL;

CREATE TABLE approval (
	id SERIAL NOT NULL, 
	ticket_id INTEGER NOT NULL, 
	question TEXT NOT NULL, 
	asked_by_staff_id INTEGER, 
	asked_by VARCHAR(320) NOT NULL, 
	asked_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	expires_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	token VARCHAR(64) NOT NULL, 
	status VARCHAR(10) NOT NULL, 
	decided_at TIMESTAMP WITH TIME ZONE, 
	decided_by_contact_id INTEGER, 
	decided_by VARCHAR(320) NOT NULL, 
	via VARCHAR(10) NOT NULL, 
	evidence_message_id VARCHAR(998) NOT NULL, 
	evidence_verdict VARCHAR(200) NOT NULL, 
	evidence_sha256 VARCHAR(64) NOT NULL, 
	evidence_detail TEXT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(ticket_id) REFERENCES ticket (id), 
	FOREIGN KEY(asked_by_staff_id) REFERENCES staff (id), 
	UNIQUE (token), 
	FOREIGN KEY(decided_by_contact_id) REFERENCES contact (id)
);

CREATE INDEX ix_approval_status ON approval (status);

CREATE INDEX ix_approval_ticket_id ON approval (ticket_id);

CREATE TABLE complaint (
	ticket_id INTEGER NOT NULL, 
	opened_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	manager_id INTEGER, 
	level INTEGER NOT NULL, 
	escalated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (ticket_id), 
	FOREIGN KEY(ticket_id) REFERENCES ticket (id), 
	FOREIGN KEY(manager_id) REFERENCES staff (id)
);

CREATE INDEX ix_complaint_manager_id ON complaint (manager_id);

CREATE TABLE event (
	id SERIAL NOT NULL, 
	at TIMESTAMP WITH TIME ZONE NOT NULL, 
	ticket_id INTEGER, 
	kind VARCHAR(60) NOT NULL, 
	actor VARCHAR(320) NOT NULL, 
	detail TEXT NOT NULL, 
	dedupe_key VARCHAR(200), 
	PRIMARY KEY (id), 
	FOREIGN KEY(ticket_id) REFERENCES ticket (id), 
	UNIQUE (dedupe_key)
);

CREATE INDEX ix_event_actor_kind_at ON event (actor, kind, at);

CREATE INDEX ix_event_kind_at ON event (kind, at);

CREATE INDEX ix_event_ticket_id ON event (ticket_id);

CREATE TABLE message (
	id SERIAL NOT NULL, 
	ticket_id INTEGER NOT NULL, 
	inbound_id INTEGER, 
	direction VARCHAR(3) NOT NULL, 
	visibility VARCHAR(10) NOT NULL, 
	author_contact_id INTEGER, 
	author_staff_id INTEGER, 
	author_email BYTEA NOT NULL, 
	message_id VARCHAR(998) NOT NULL, 
	header_message_id VARCHAR(998) NOT NULL, 
	subject BYTEA NOT NULL, 
	body_text BYTEA NOT NULL, 
	new_text BYTEA NOT NULL, 
	row_key VARCHAR(16) NOT NULL, 
	auth_verdict VARCHAR(200) NOT NULL, 
	flags VARCHAR(500) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	text_digest VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(ticket_id) REFERENCES ticket (id), 
	FOREIGN KEY(inbound_id) REFERENCES inbound (id), 
	FOREIGN KEY(author_contact_id) REFERENCES contact (id), 
	FOREIGN KEY(author_staff_id) REFERENCES staff (id), 
	UNIQUE (message_id)
);

CREATE INDEX ix_message_author_repeat ON message (author_contact_id, text_digest);

CREATE INDEX ix_message_created_at ON message (created_at);

CREATE INDEX ix_message_header_message_id ON message (header_message_id);

CREATE INDEX ix_message_inbound_id ON message (inbound_id);

CREATE INDEX ix_message_ticket_id ON message (ticket_id);

CREATE TABLE outbox (
	id SERIAL NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	kind VARCHAR(40) NOT NULL, 
	ticket_id INTEGER, 
	automatic BOOLEAN NOT NULL, 
	mail_from VARCHAR(320) NOT NULL, 
	rcpt_to TEXT NOT NULL, 
	recipient_key VARCHAR(320) NOT NULL, 
	message_id VARCHAR(998) NOT NULL, 
	raw BYTEA NOT NULL, 
	row_key VARCHAR(16) NOT NULL, 
	status VARCHAR(10) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	last_error TEXT, 
	sent_at TIMESTAMP WITH TIME ZONE, 
	dedupe_key VARCHAR(200), 
	retried_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	FOREIGN KEY(ticket_id) REFERENCES ticket (id), 
	UNIQUE (message_id), 
	UNIQUE (dedupe_key)
);

CREATE INDEX ix_outbox_recipient_key ON outbox (recipient_key);

CREATE INDEX ix_outbox_recipient_recent ON outbox (recipient_key, created_at);

CREATE INDEX ix_outbox_status ON outbox (status);

CREATE INDEX ix_outbox_ticket_id ON outbox (ticket_id);

CREATE TABLE quarantine (
	id SERIAL NOT NULL, 
	inbound_id INTEGER NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	reason VARCHAR(60) NOT NULL, 
	detail TEXT NOT NULL, 
	sender VARCHAR(320) NOT NULL, 
	released_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (inbound_id), 
	FOREIGN KEY(inbound_id) REFERENCES inbound (id)
);

CREATE INDEX ix_quarantine_created_at ON quarantine (created_at);

CREATE INDEX ix_quarantine_sender ON quarantine (sender);

CREATE TABLE ticketcc (
	ticket_id INTEGER NOT NULL, 
	contact_id INTEGER NOT NULL, 
	PRIMARY KEY (ticket_id, contact_id), 
	FOREIGN KEY(ticket_id) REFERENCES ticket (id), 
	FOREIGN KEY(contact_id) REFERENCES contact (id)
);

CREATE TABLE watch (
	ticket_id INTEGER NOT NULL, 
	staff_id INTEGER NOT NULL, 
	PRIMARY KEY (ticket_id, staff_id), 
	FOREIGN KEY(ticket_id) REFERENCES ticket (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id)
);

CREATE TABLE attachment (
	id SERIAL NOT NULL, 
	message_id INTEGER NOT NULL, 
	blob_id VARCHAR(64) NOT NULL, 
	filename BYTEA NOT NULL, 
	row_key VARCHAR(16) NOT NULL, 
	content_type VARCHAR(200) NOT NULL, 
	size INTEGER NOT NULL, 
	content_id BYTEA NOT NULL, 
	inline BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(message_id) REFERENCES message (id), 
	FOREIGN KEY(blob_id) REFERENCES blob (id)
);

CREATE INDEX ix_attachment_message_id ON attachment (message_id);

CREATE TABLE bouncing (
	address VARCHAR(320) NOT NULL, 
	since TIMESTAMP WITH TIME ZONE NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	diagnostic TEXT NOT NULL, 
	outbox_id INTEGER, 
	cleared_at TIMESTAMP WITH TIME ZONE, 
	PRIMARY KEY (address), 
	FOREIGN KEY(outbox_id) REFERENCES outbox (id)
);

CREATE TABLE rating (
	id SERIAL NOT NULL, 
	message_id INTEGER NOT NULL, 
	contact_id INTEGER NOT NULL, 
	ticket_id INTEGER NOT NULL, 
	staff_id INTEGER, 
	score INTEGER NOT NULL, 
	comment BYTEA NOT NULL, 
	row_key VARCHAR(16) NOT NULL, 
	source VARCHAR(10) NOT NULL, 
	created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (message_id, contact_id), 
	FOREIGN KEY(message_id) REFERENCES message (id), 
	FOREIGN KEY(contact_id) REFERENCES contact (id), 
	FOREIGN KEY(ticket_id) REFERENCES ticket (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id)
);

CREATE INDEX ix_rating_contact_id ON rating (contact_id);

CREATE INDEX ix_rating_ticket_id ON rating (ticket_id);

CREATE INDEX ix_rating_updated_at ON rating (updated_at);
