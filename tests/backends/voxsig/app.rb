# Reference Voxsig server: Rails ActionCable (Debian's ruby-actioncable) imitating a Chatwoot-style
# helpdesk as the real Chatwoot server behaves, not as the widget would like it to.
#
# Every behaviour below names, in a comment, the file of the chatwoot/chatwoot repository where the
# real server does it ("CW <path>"; read at develop 79381a4c5ff3, v4.9.1). Where the real behaviour
# depends on deployment (Sidekiq latency, inbox settings) it is a flag: see Config.
require "action_cable"
require "json"
require "logger"
require "securerandom"
require "active_support/core_ext/securerandom"
require "time"
require "rack"
require "zlib"

INBOX = ENV.fetch("VOXSIG_INBOX", "demo-inbox")
LOG = Logger.new($stdout)
ACCOUNT_ID = 1
INBOX_ID = 1
PUBLIC_URL = ENV.fetch("VOXSIG_PUBLIC_URL", "http://127.0.0.1:#{ENV.fetch('VOXSIG_PORT', '3101')}")

ActionCable.server.config.cable = { "adapter" => "async" }
ActionCable.server.config.logger = LOG
ActionCable.server.config.disable_request_forgery_protection = true
ActionCable.server.config.worker_pool_size = 4
ActionCable.server.config.connection_class = -> { ApplicationCable::Connection }

def env_bool(name, default) = %w[1 true yes on].include?(ENV.fetch(name, default.to_s).downcase)

# What cannot be read from the Chatwoot source because it depends on the deployment or on inbox
# settings. Each is an env var and can be changed at run time with POST /_control/config.
module Config
  DEFAULTS = {
    # Sidekiq latency of ActionCableBroadcastJob (CW app/jobs/action_cable_broadcast_job.rb,
    # queue :critical): each broadcast waits a uniform 0..jitter ms on a pool of workers, so
    # broadcasts created within a few ms of each other often arrive out of order, and a broadcast
    # may arrive before or after the REST answer. 0 = one serial worker, in order (still async).
    broadcast_jitter_ms: Float(ENV.fetch("BROADCAST_JITTER_MS", "50")),
    # Inbox#csat_survey_enabled (CW app/services/csat_survey_service.rb#csat_enabled?).
    csat_enabled: env_bool("CSAT_ENABLED", true),
    # inbox.csat_config['display_type'] || 'emoji' (CW app/services/message_templates/template/csat_survey.rb).
    csat_display_type: ENV.fetch("CSAT_DISPLAY_TYPE", "emoji"),
    # messages.id is one table-wide sequence shared by every account and by activity messages:
    # each new id skips 0..id_gap_max ids used "elsewhere" (CW app/models/message.rb schema).
    id_gap_max: Integer(ENV.fetch("ID_GAP_MAX", "3")),
    # Limits.conversation_message_per_minute_limit (CW lib/limits.rb, used by
    # Message#prevent_message_flooding in CW app/models/message.rb).
    message_limit_per_minute: Integer(ENV.fetch("CONVERSATION_MESSAGE_PER_MINUTE_LIMIT", "200")),
    # OnlineStatusTracker::PRESENCE_DURATION (CW lib/online_status_tracker.rb).
    presence_duration_s: Float(ENV.fetch("PRESENCE_DURATION", "20")),
    # The scripted agent (not Chatwoot: a stand-in for a person at the dashboard).
    agent_delay_ms: Float(ENV.fetch("AGENT_DELAY_MS", "400")),
    agent_replies: env_bool("AGENT_REPLIES", true),
  }.freeze
  @values = DEFAULTS.dup
  class << self
    def [](key) = @values[key]
    def to_h = @values.dup

    def update(changes)
      changes.each do |k, v|
        key = k.to_sym
        next unless @values.key?(key)
        @values[key] = case DEFAULTS[key]
                       when true, false then v == true || v.to_s == "true"
                       when Float then Float(v)
                       when Integer then Integer(v)
                       else v.to_s
                       end
      end
      to_h
    end
  end
end

# All state in memory, behind one (reentrant) lock.
module Store
  LOCK = Monitor.new
  @contacts = {}        # id => contact (CW app/models/contact.rb)
  @contact_inboxes = {} # source_id => contact_inbox {id, source_id, pubsub_token, contact_id} (CW app/models/contact_inbox.rb)
  @conversations = {}   # display_id => conversation
  @messages = {}        # id => message; echo_id is never stored (attr_accessor in CW app/models/message.rb)
  @received = []        # every visitor message POSTed, duplicates included
  @ids = Hash.new(0)
  @ids[:message] = 4_000 # other accounts have used the sequence before
  @refuse_until = Time.at(0)

  class << self
    attr_accessor :refuse_until
    attr_reader :contacts, :contact_inboxes, :conversations, :messages, :received

    def sync(&block) = LOCK.synchronize(&block)
    def next_id(kind) = sync { @ids[kind] += 1 }

    # One table-wide sequence: ids increase but are not consecutive within a conversation.
    def next_message_id = sync { @ids[:message] += 1 + rand(0..Config[:id_gap_max]) }

    def refusing? = Time.now < @refuse_until
    def contact_inbox_by_token(token) = sync { @contact_inboxes.values.find { |ci| ci[:pubsub_token] == token } }
    def contact_of(conv) = @contacts[conv[:contact_id]]
    def contact_inbox_of(conv) = @contact_inboxes[conv[:source_id]]
    def conversation_messages(conv_id) = sync { @messages.values.select { |m| m[:conversation_id] == conv_id }.sort_by { |m| m[:id] } }
  end
end

# Users of the account and what OnlineStatusTracker knows of them (CW lib/online_status_tracker.rb):
# a sorted set of "last seen" times per user (updated while their dashboard is open) and a hash of
# statuses (online | busy | offline). Ana (1) is the scripted agent; Bruno (2) is a colleague who
# is busy, so presence.update always lists more than this conversation's agent.
module Presence
  USERS = {
    1 => { id: 1, name: "Ana Lima", available_name: "Ana", status: "online", dashboard: true, seen_at: Time.now.to_f },
    2 => { id: 2, name: "Bruno Costa", available_name: "Bruno", status: "busy", dashboard: true, seen_at: Time.now.to_f },
  }
  @contacts_seen = {}

  class << self
    attr_reader :contacts_seen

    def seen?(user)
      user[:seen_at] = Time.now.to_f if user[:dashboard]
      user[:seen_at] > Time.now.to_f - Config[:presence_duration_s]
    end

    # get_available_users: {"<id>" => status} for every user seen within PRESENCE_DURATION.
    def available_users = Store.sync { USERS.values.select { |u| seen?(u) }.to_h { |u| [u[:id].to_s, u[:status]] } }

    # update_presence(account_id, 'Contact', id): zadd with the current time.
    def contact_seen(contact_id) = Store.sync { @contacts_seen[contact_id] = Time.now.to_f }

    # User#push_event_data (CW app/models/user.rb).
    def user_payload(id)
      u = USERS.fetch(id)
      { id: u[:id], name: u[:name], available_name: u[:available_name], avatar_url: "", type: "user",
        availability_status: u[:status], thumbnail: "" }
    end
  end
end

# AgentBot#push_event_data(inbox) (CW app/models/agent_bot.rb): bot messages are outgoing
# messages whose sender is an AgentBot.
BOT = { id: 1, name: "Voxsig Bot", avatar_url: "", type: "agent_bot" }.freeze

def iso(t) = Time.at(t).utc.iso8601(3)

module Payloads
  module_function

  # Contact#push_event_data (CW app/models/contact.rb).
  def contact(c)
    { additional_attributes: c[:additional_attributes], custom_attributes: c[:custom_attributes], email: c[:email],
      id: c[:id], identifier: c[:identifier], name: c[:name], phone_number: c[:phone_number], thumbnail: "",
      blocked: false, type: "contact" }
  end

  # public/api/v1/models/_contact.json.jbuilder (CW app/views/public/api/v1/models/_contact.json.jbuilder)
  # behind source_id and pubsub_token (CW app/views/public/api/v1/inboxes/contacts/create.json.jbuilder).
  def public_contact(ci)
    c = Store.contacts[ci[:contact_id]]
    { source_id: ci[:source_id], pubsub_token: ci[:pubsub_token], id: c[:id], name: c[:name], email: c[:email],
      phone_number: c[:phone_number] }
  end

  # The Contact record rendered as JSON: PATCH /contacts/{id} does `render json: ContactIdentifyAction#perform`
  # (CW app/controllers/public/api/v1/inboxes/contacts_controller.rb#update), i.e. the model's
  # columns, without source_id or pubsub_token.
  def contact_record(c)
    { id: c[:id], name: c[:name], email: c[:email], phone_number: c[:phone_number], account_id: ACCOUNT_ID,
      created_at: iso(c[:created_at]), updated_at: iso(c[:updated_at]), additional_attributes: c[:additional_attributes],
      identifier: c[:identifier], custom_attributes: c[:custom_attributes], last_activity_at: nil,
      contact_type: "visitor", middle_name: "", last_name: "", location: "", country_code: "", blocked: false, company_id: nil }
  end

  def sender(m)
    case m[:sender]
    when :contact then contact(Store.contacts[m[:contact_id]] || { id: m[:contact_id] })
    when :user then Presence.user_payload(m[:user_id]).merge(m[:sender_override] || {})
    when :bot then BOT.merge(m[:sender_override] || {})
    end
  end

  def sender_type(m) = { contact: "Contact", user: "User", bot: "AgentBot" }[m[:sender]]

  # Attachment#push_event_data: base_data + file_metadata (CW app/models/attachment.rb).
  def attachments(m) = m[:attachments].map { |a| a.merge(message_id: m[:id], account_id: ACCOUNT_ID) }

  # The REST shape: CW app/views/public/api/v1/models/_message.json.jbuilder. No echo_id, no status,
  # no account_id; `attachments` and `sender` only when present.
  def rest_message(m)
    out = { id: m[:id], content: m[:content], message_type: m[:message_type], content_type: m[:content_type],
            content_attributes: m[:content_attributes], created_at: m[:created_at].to_i,
            conversation_id: m[:conversation_id] }
    out[:attachments] = attachments(m) unless m[:attachments].empty?
    s = sender(m)
    out[:sender] = s if s
    out
  end

  # Message#push_event_data (CW app/models/message.rb): every column, conversation_push_event_data,
  # echo_id only when the creating request gave one (it is an attr_accessor, so only the
  # message.created broadcast of that request can carry it), attachments, sender.
  def push_message(m, echo_id: nil)
    conv = Store.conversations[m[:conversation_id]]
    out = { id: m[:id], content: m[:content], account_id: ACCOUNT_ID, inbox_id: INBOX_ID,
            conversation_id: m[:conversation_id], message_type: m[:message_type], created_at: m[:created_at].to_i,
            updated_at: iso(m[:updated_at]), private: m[:private], status: m[:status], source_id: nil,
            content_type: m[:content_type], content_attributes: m[:content_attributes],
            sender_type: sender_type(m), sender_id: m[:contact_id] || m[:user_id] || (m[:sender] == :bot ? BOT[:id] : nil),
            external_source_ids: {}, additional_attributes: {}, processed_message_content: m[:content], sentiment: {},
            conversation: conv && { assignee_id: conv[:assignee_id], unread_count: unread_count(conv),
                                    last_activity_at: conv[:last_activity_at].to_i,
                                    contact_inbox: { source_id: conv[:source_id] } } }
    out[:echo_id] = echo_id if echo_id && !echo_id.to_s.empty?
    out[:attachments] = attachments(m) unless m[:attachments].empty?
    s = sender(m)
    out[:sender] = s if s
    out
  end

  # Conversation#unread_incoming_messages (CW app/models/conversation.rb): incoming messages after agent_last_seen_at.
  def unread_count(conv)
    Store.conversation_messages(conv[:id]).count { |m| m[:message_type] == 0 && m[:created_at] > conv[:agent_last_seen_at] }
  end

  def chat_messages(conv) = Store.conversation_messages(conv[:id]).reject { |m| m[:private] || m[:message_type] == 2 }

  # Conversations::EventDataPresenter#push_data (CW app/presenters/conversations/event_data_presenter.rb).
  def push_conversation(conv)
    c = Store.contact_of(conv)
    ci = Store.contact_inbox_of(conv)
    last = chat_messages(conv).max_by { |m| [m[:created_at], m[:id]] }
    { additional_attributes: {}, can_reply: true, channel: "Channel::Api",
      contact_inbox: ci && { id: ci[:id], contact_id: ci[:contact_id], inbox_id: INBOX_ID, source_id: ci[:source_id],
                             created_at: iso(ci[:created_at]), updated_at: iso(ci[:created_at]), hmac_verified: false,
                             pubsub_token: ci[:pubsub_token] },
      id: conv[:id], inbox_id: INBOX_ID, messages: last ? [push_message(last)] : [], labels: [],
      meta: { sender: c && contact(c), assignee: conv[:assignee_id] && Presence.user_payload(conv[:assignee_id]),
              assignee_type: conv[:assignee_id] ? "User" : nil, team: nil, hmac_verified: false },
      status: conv[:status], custom_attributes: {}, snoozed_until: nil, unread_count: unread_count(conv),
      first_reply_created_at: conv[:first_reply_created_at], priority: nil, waiting_since: 0,
      agent_last_seen_at: conv[:agent_last_seen_at].to_i, contact_last_seen_at: conv[:contact_last_seen_at].to_i,
      last_activity_at: conv[:last_activity_at].to_i, timestamp: conv[:last_activity_at].to_i,
      created_at: conv[:created_at].to_i, updated_at: conv[:updated_at] }
  end

  # CW app/views/public/api/v1/models/_conversation.json.jbuilder: every chat message (no activity,
  # no private notes) and the whole Contact record.
  def public_conversation(conv)
    { id: conv[:id], uuid: conv[:uuid], inbox_id: INBOX_ID, contact_last_seen_at: conv[:contact_last_seen_at].to_i,
      status: conv[:status], agent_last_seen_at: conv[:agent_last_seen_at].to_i,
      messages: chat_messages(conv).sort_by { |m| [m[:created_at], m[:id]] }.map { |m| rest_message(m) },
      contact: contact_record(Store.contact_of(conv)) }
  end
end

# ActionCableListener + ActionCableBroadcastJob.perform_later (CW app/listeners/action_cable_listener.rb,
# CW app/jobs/action_cable_broadcast_job.rb): the listener computes the tokens and (for messages)
# the payload when the event happens; the job runs later on a Sidekiq worker, each broadcast its own
# job. For conversation events the job re-reads the conversation when it runs
# (prepare_broadcast_data, CONVERSATION_UPDATE_EVENTS), so it sends the state at delivery time.
module Broadcaster
  WORKERS = Integer(ENV.fetch("BROADCAST_WORKERS", "8"))
  @pool = Queue.new
  @serial = Queue.new
  @sent = 0

  class << self
    attr_reader :sent

    def perform_later(tokens, event, data = nil, &builder)
      tokens = Array(tokens).compact.uniq
      return if tokens.empty?
      job = { tokens: tokens, event: event, data: data, builder: builder }
      jitter = Config[:broadcast_jitter_ms]
      if jitter <= 0
        @serial << job
      else
        job[:delay] = rand * jitter / 1000.0
        @pool << job
      end
    end

    def start
      WORKERS.times { Thread.new { loop { run(@pool.pop) } } }
      Thread.new { loop { run(@serial.pop) } }
    end

    def run(job)
      sleep job[:delay] if job[:delay]
      data = job[:builder] ? Store.sync { job[:builder].call } : job[:data]
      return unless data # the record is gone: the real job raises RecordNotFound and sends nothing
      job[:tokens].each { |t| Cable.deliver(t, { event: job[:event], data: data.merge(account_id: ACCOUNT_ID) }) }
      Store.sync { @sent += 1 }
    rescue StandardError => e
      LOG.error("broadcast #{job[:event]}: #{e.class}: #{e.message}")
    end
  end
end
Broadcaster.start

# ActionCable.server.broadcast → pubsub → each subscriber's callback is posted to the server's
# event loop executor (up to 10 threads; the Redis adapter's Listener does the same) and then to
# the connection's worker pool (4 threads, Chatwoot keeps the default): Rails
# actioncable/lib/action_cable/connection/stream_event_loop.rb#post and
# actioncable/lib/action_cable/channel/streams.rb#worker_pool_stream_handler. So real ActionCable
# may itself reorder two broadcasts made in order. With broadcast_jitter_ms 0 this server
# transmits to the subscribed channels directly from its one serial worker instead: 0 = in order.
module Cable
  @subs = Hash.new { |h, k| h[k] = [] }
  class << self
    def add(token, channel) = Store.sync { @subs[token] |= [channel] }
    def remove(token, channel) = Store.sync { @subs[token].delete(channel) }

    def deliver(token, payload)
      if Config[:broadcast_jitter_ms] <= 0
        Store.sync { @subs[token].dup }.each { |ch| ch.send(:transmit, payload, via: "in order from #{token}") }
      else
        ActionCable.server.broadcast(token, payload)
      end
    end
  end
end

# The contact's token (contact_inbox_tokens in CW app/listeners/action_cable_listener.rb).
def contact_token(conv) = Store.contact_inbox_of(conv)&.dig(:pubsub_token)

def broadcast_message(m, event, echo_id: nil, previous_changes: nil)
  conv = Store.conversations[m[:conversation_id]]
  return unless conv
  # contact_tokens: private notes and activity messages never go to the contact.
  return if m[:private] || m[:message_type] == 2
  data = Payloads.push_message(m, echo_id: echo_id)
  data[:previous_changes] = previous_changes if event == "message.updated"
  Broadcaster.perform_later(contact_token(conv), event, data)
end

# conversation.status_changed / conversation.updated: payload read when the job runs.
def broadcast_conversation(conv, event)
  id = conv[:id]
  Broadcaster.perform_later(contact_token(conv), event) do
    c = Store.conversations[id]
    c && Payloads.push_conversation(c)
  end
end

# Creates a message as Message#save! does (CW app/models/message.rb): validations, then the
# after_create_commit callbacks in their order (reopen_conversation, set_conversation_activity,
# dispatch_create_events → message.created). Returns [message, error].
def create_message(conv, attrs, echo_id: nil)
  now = Time.now.to_f
  # Message#prevent_message_flooding: too many messages in this conversation in the last minute.
  recent = Store.conversation_messages(conv[:id]).count { |m| m[:created_at] >= now - 60 }
  return [nil, "Too many messages"] if recent >= Config[:message_limit_per_minute]

  m = { id: Store.next_message_id, conversation_id: conv[:id], content: nil, message_type: 1, content_type: "text",
        content_attributes: {}, created_at: now, updated_at: now, status: "sent", private: false, sender: nil,
        contact_id: nil, user_id: nil, attachments: [] }.merge(attrs)
  Store.sync { Store.messages[m[:id]] = m }
  reopen_conversation(conv, m) if m[:message_type] == 0
  conv[:last_activity_at] = now
  broadcast_message(m, "message.created", echo_id: echo_id)
  conv[:first_reply_created_at] ||= now.to_i if m[:message_type] == 1 && m[:sender] == :user
  [m, nil]
end

# Message#reopen_conversation / #reopen_resolved_conversation (CW app/models/message.rb): an
# incoming message on a resolved conversation of an API inbox opens it, attributed to the contact,
# so the activity message is "System reopened the conversation due to a new incoming message."
# (CW app/models/concerns/activity_message_handler.rb#automation_status_change_activity_content).
def reopen_conversation(conv, _message)
  return unless %w[resolved snoozed].include?(conv[:status])
  set_status(conv, "open", activity: "System reopened the conversation due to a new incoming message.")
end

# Conversation status change (CW app/models/conversation.rb#execute_after_update_commit_callbacks):
# notify_status_change → conversation.status_changed to the contact (and conversation_opened /
# conversation_resolved, which ActionCableListener does not forward); create_activity → an
# activity message (an id, never shown to the contact); notify_conversation_updation → status is
# in list_of_keys → conversation.updated to the contact. On resolve, CsatSurveyListener
# (CW app/listeners/csat_survey_listener.rb) runs CsatSurveyService.
def set_status(conv, status, activity:)
  return if conv[:status] == status
  conv[:status] = status
  conv[:updated_at] = Time.now.to_f
  broadcast_conversation(conv, "conversation.status_changed")
  create_message(conv, { message_type: 2, content: activity }) if activity
  broadcast_conversation(conv, "conversation.updated")
  send_csat(conv) if status == "resolved"
end

# CsatSurveyService + MessageTemplates::Template::CsatSurvey (CW app/services/csat_survey_service.rb,
# CW app/services/message_templates/template/csat_survey.rb): when the inbox has CSAT enabled and
# no input_csat was sent in this conversation yet, a template message (message_type 3, no sender)
# with content_type input_csat and content_attributes {display_type}.
def send_csat(conv)
  return unless Config[:csat_enabled]
  return if Store.conversation_messages(conv[:id]).any? { |m| m[:content_type] == "input_csat" }
  create_message(conv, { message_type: 3, content_type: "input_csat", content: "Please rate the conversation",
                         content_attributes: { display_type: Config[:csat_display_type] } }).first
end

# Agent resolves (Api::V1::Accounts::ConversationsController#toggle_status, CW
# app/controllers/api/v1/accounts/conversations_controller.rb), activity text from
# conversations.activity.status.resolved (CW config/locales/en.yml).
def resolve_by_agent(conv)
  set_status(conv, "resolved", activity: "Conversation was marked resolved by #{Presence::USERS[1][:name]}")
end

# Deleting a message (Api::V1::Accounts::Conversations::MessagesController#destroy, CW
# app/controllers/api/v1/accounts/conversations/messages_controller.rb): content becomes
# I18n conversations.messages.deleted ("This message was deleted", CW config/locales/en.yml),
# content_type text, content_attributes replaced by {deleted: true}, attachments destroyed;
# the update broadcasts message.updated with previous_changes.
def delete_message(m)
  now = Time.now.to_f
  prev = { content: [m[:content], "This message was deleted"], updated_at: [iso(m[:updated_at]), iso(now)] }
  prev[:content_type] = [m[:content_type], "text"] if m[:content_type] != "text"
  prev[:content_attributes] = [m[:content_attributes], { deleted: true }]
  m.merge!(content: "This message was deleted", content_type: "text", content_attributes: { deleted: true },
           attachments: [], updated_at: now)
  broadcast_message(m, "message.updated", previous_changes: prev)
end

# A tiny PNG so attachments have a real image to show.
module SamplePng
  def self.build(w = 240, h = 160)
    rows = (0...h).map { |y| "\x00".b + (0...w).map { |x| [40 + x * 180 / w, 90 + y * 120 / h, 200].pack("C3") }.join }.join
    chunk = ->(type, data) { [data.bytesize].pack("N") + type + data + [Zlib.crc32(type + data)].pack("N") }
    "\x89PNG\r\n\x1a\n".b + chunk.call("IHDR", [w, h, 8, 2, 0, 0, 0].pack("NNC5")) +
      chunk.call("IDAT", Zlib::Deflate.deflate(rows)) + chunk.call("IEND", "")
  end
  FULL = build
  THUMB = build(120, 80)
end

module Agent
  module_function

  def later(seconds = Config[:agent_delay_ms] / 1000, &block)
    Thread.new do
      sleep seconds
      Store.sync(&block)
    rescue StandardError => e
      LOG.error("agent: #{e.class}: #{e.message}")
    end
  end

  # conversation.typing_on/off to the contact (CW app/listeners/action_cable_listener.rb#conversation_typing_on):
  # {conversation: push_event_data, user: user.push_event_data, is_private}.
  def typing(conv, on)
    data = { conversation: Payloads.push_conversation(conv), user: Presence.user_payload(1), is_private: false }
    Broadcaster.perform_later(contact_token(conv), on ? "conversation.typing_on" : "conversation.typing_off", data)
  end

  def message(conv, text)
    create_message(conv, { message_type: 1, content: text, sender: :user, user_id: 1 }).first
  end

  def say(conv, text)
    typing(conv, true)
    later do
      next unless Store.conversations[conv[:id]]
      typing(conv, false)
      message(conv, text)
    end
  end

  # Self-assignment: assignee_id is in Conversation#list_of_keys, so conversation.updated goes
  # to the contact (assignee.changed only to agents) (CW app/models/conversation.rb,
  # CW app/listeners/action_cable_listener.rb).
  def join(conv)
    later do
      next unless Store.conversations[conv[:id]]
      conv[:assignee_id] = 1
      conv[:updated_at] = Time.now.to_f
      broadcast_conversation(conv, "conversation.updated")
      say(conv, "Hello! I'm Ana. How can I help?")
    end
  end

  # The agent reads (agent_last_seen_at is an update_column: no event, CW
  # app/controllers/api/v1/accounts/conversations_controller.rb#update_last_seen) and answers.
  def reply(conv, visitor_message)
    # A brand-new conversation hears the greeting first.
    later(Config[:agent_delay_ms] / 1000 * (conv[:assignee_id] ? 1 : 3)) do
      next unless Store.conversations[conv[:id]]
      conv[:agent_last_seen_at] = Time.now.to_f
      say(conv, "You said: #{visitor_message[:content]}") if Presence::USERS[1][:status] == "online" && Config[:agent_replies]
    end
  end

  # Canned bot/template messages, shapes as ContentAttributeValidator allows them
  # (CW app/models/concerns/content_attribute_validator.rb) and as the templates build them.
  def rich(conv, kind)
    bot = { message_type: 1, sender: :bot }
    case kind
    when "input_select"
      [message_with(conv, bot.merge(content_type: "input_select", content: "What can I help you with?",
                                    content_attributes: { items: [{ title: "Billing", value: "billing" },
                                                                  { title: "Technical support", value: "support" },
                                                                  { title: "Something else", value: "other" }] }))]
    when "cards"
      [message_with(conv, bot.merge(content_type: "cards", content: "Our plans",
                                    content_attributes: { items: [
                                      { media_url: "#{PUBLIC_URL}/rails/active_storage/sample.png", title: "Starter",
                                        description: "For small teams, 3 seats.",
                                        actions: [{ type: "link", text: "See pricing", uri: "https://example.com/pricing" },
                                                  { type: "postback", text: "Choose Starter", payload: "PLAN_STARTER" }] },
                                      { media_url: "#{PUBLIC_URL}/rails/active_storage/sample.png", title: "Business",
                                        description: "Unlimited seats and SSO.",
                                        actions: [{ type: "postback", text: "Choose Business", payload: "PLAN_BUSINESS" }] },
                                    ] }))]
    when "form"
      [message_with(conv, bot.merge(content_type: "form", content: "Tell us about your request",
                                    content_attributes: { items: [
                                      { name: "email", label: "Email", type: "email", placeholder: "you@example.com", required: true },
                                      { name: "order", label: "Order number", type: "text", placeholder: "12345", required: false },
                                      { name: "details", label: "Details", type: "text_area", placeholder: "What happened?", required: true },
                                    ] }))]
    when "article"
      [message_with(conv, bot.merge(content_type: "article", content: "These articles may help",
                                    content_attributes: { items: [
                                      { title: "Resetting your password", description: "Step by step.", link: "https://example.com/help/reset" },
                                      { title: "Billing FAQ", description: "Invoices, refunds and plans.", link: "https://example.com/help/billing" },
                                    ] }))]
    when "input_email"
      # MessageTemplates::Template::EmailCollect (CW app/services/message_templates/template/email_collect.rb):
      # two template messages, no sender.
      [message_with(conv, { message_type: 3, content: "Give the team a way to reach you." }),
       message_with(conv, { message_type: 3, content_type: "input_email", content: "Get notified by email" })]
    when "csat"
      resolve_by_agent(conv)
      [Store.conversation_messages(conv[:id]).reverse.find { |m| m[:content_type] == "input_csat" }].compact
    when "image"
      # Attachment#push_event_data (CW app/models/attachment.rb): base_data + file_metadata.
      att = { id: Store.next_id(:attachment), file_type: "image", extension: "png",
              data_url: "#{PUBLIC_URL}/rails/active_storage/sample.png",
              thumb_url: "#{PUBLIC_URL}/rails/active_storage/sample_thumb.png",
              file_size: SamplePng::FULL.bytesize, width: 240, height: 160 }
      [message_with(conv, { message_type: 1, sender: :user, user_id: 1, content: "Here is the screenshot", attachments: [att] })]
    end
  end

  def message_with(conv, attrs) = create_message(conv, attrs).first
end

module ApplicationCable
  class Connection < ActionCable::Connection::Base; end
  class Channel < ActionCable::Channel::Base; end
end

# RoomChannel (CW app/channels/room_channel.rb): a contact subscribes with its contact_inbox's
# pubsub_token; ContactInbox.find_by! raises on an unknown or deleted token, after which no
# confirm and no reject is ever sent. On subscribe and on each update_presence the contact is
# marked seen and presence.update goes to its own token only, listing every available user of the
# account (OnlineStatusTracker.get_available_users, CW lib/online_status_tracker.rb).
class RoomChannel < ApplicationCable::Channel
  def subscribed
    ci = Store.contact_inbox_by_token(params[:pubsub_token])
    raise ArgumentError, "unknown pubsub_token" unless ci && params[:user_id].to_s.empty?
    @contact_id = ci[:contact_id]
    stream_from params[:pubsub_token]
    Cable.add(params[:pubsub_token], self)
    update_presence
  end

  def unsubscribed = Cable.remove(params[:pubsub_token], self)

  def update_presence
    Presence.contact_seen(@contact_id)
    Cable.deliver(params[:pubsub_token], { event: "presence.update", data: { account_id: ACCOUNT_ID, users: Presence.available_users } })
  end
end
