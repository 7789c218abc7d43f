# Reference Voxsig server: Rails ActionCable (Debian's ruby-actioncable) with a RoomChannel that
# authenticates pubsub tokens the way Chatwoot's does, the public client REST API the widget
# uses, a scripted agent, and the control API. Payloads follow the Voxsig document's shapes.
require "action_cable"
require "json"
require "logger"
require "securerandom"
require "rack"

INBOX = ENV.fetch("VOXSIG_INBOX", "demo-inbox")
AGENT_DELAY = Float(ENV.fetch("AGENT_DELAY_MS", "400")) / 1000
LOG = Logger.new($stdout)

ActionCable.server.config.cable = { "adapter" => "async" }
ActionCable.server.config.logger = LOG
ActionCable.server.config.disable_request_forgery_protection = true
ActionCable.server.config.worker_pool_size = 4
ActionCable.server.config.connection_class = -> { ApplicationCable::Connection }

# All state in memory, behind one lock.
module Store
  LOCK = Monitor.new
  @contacts = {}       # source_id => contact
  @conversations = {}  # id => conversation
  @messages = []
  @received = []
  @next_id = { contact: 0, conversation: 0, message: 0 }
  @agent_status = "online"
  @refuse_until = Time.at(0)

  class << self
    attr_accessor :agent_status, :refuse_until
    attr_reader :contacts, :conversations, :messages, :received

    def sync(&block) = LOCK.synchronize(&block)
    def next_id(kind) = sync { @next_id[kind] += 1 }
    def refusing? = Time.now < @refuse_until
    def contact_by_token(token) = sync { @contacts.values.find { |c| c[:pubsub_token] == token } }
  end
end

AGENT = { id: 1, name: "Ana Lima", available_name: "Ana", avatar_url: "", type: "user",
          availability_status: "online", thumbnail: "" }.freeze

module Payloads
  module_function

  def contact(c)
    { additional_attributes: {}, custom_attributes: {}, email: c[:email], id: c[:id], identifier: nil,
      name: c[:name], phone_number: nil, thumbnail: "", type: "contact" }
  end

  def message(m)
    conv = Store.conversations[m[:conversation_id]]
    sender = m[:message_type] == 0 ? contact(Store.contacts[conv[:source_id]]) : AGENT.merge(availability_status: Store.agent_status)
    out = { id: m[:id], content: m[:content], account_id: 1, inbox_id: 1, conversation_id: m[:conversation_id],
            message_type: m[:message_type], created_at: m[:created_at], updated_at: Time.at(m[:created_at]).utc.iso8601,
            private: false, status: m[:status], source_id: nil, content_type: "text", content_attributes: {},
            sender_type: m[:message_type] == 0 ? "Contact" : "User", sender_id: sender[:id],
            external_source_ids: {}, sender: sender }
    out[:echo_id] = m[:echo_id] if m[:echo_id]
    out
  end

  def conversation(conv)
    c = Store.contacts[conv[:source_id]]
    { additional_attributes: {}, can_reply: true, channel: "Channel::Api", id: conv[:id], inbox_id: 1,
      contact_inbox: { id: c[:id], contact_id: c[:id], inbox_id: 1, source_id: c[:source_id], hmac_verified: false },
      messages: [], meta: { sender: contact(c), assignee: conv[:assigned] ? AGENT : nil },
      status: conv[:status], unread_count: 0, agent_last_seen_at: 0, contact_last_seen_at: 0,
      timestamp: conv[:created_at], account_id: 1 }
  end
end

# Broadcasts to a contact's stream, the way Chatwoot's ActionCableBroadcastJob does.
def broadcast(conv, event, data)
  token = Store.contacts[conv[:source_id]][:pubsub_token]
  ActionCable.server.broadcast(token, { event: event, data: data.merge(account_id: 1) })
end

def add_message(conv, content, type, echo_id: nil)
  m = { id: Store.next_id(:message), conversation_id: conv[:id], content: content, message_type: type,
        created_at: Time.now.to_i, status: "sent", echo_id: echo_id }
  Store.sync { Store.messages << m }
  broadcast(conv, "message.created", Payloads.message(m))
  m
end

module Agent
  module_function

  def later(&block)
    Thread.new do
      sleep AGENT_DELAY
      block.call
    rescue StandardError => e
      LOG.error("agent: #{e.class}: #{e.message}")
    end
  end

  def typing(conv, on)
    broadcast(conv, on ? "conversation.typing_on" : "conversation.typing_off",
              { conversation: Payloads.conversation(conv), user: AGENT, is_private: false })
  end

  def say(conv, text)
    typing(conv, true)
    later do
      typing(conv, false)
      add_message(conv, text, 1)
    end
  end

  def join(conv)
    later do
      conv[:assigned] = true
      broadcast(conv, "conversation.updated", Payloads.conversation(conv))
      say(conv, "Hello! I'm Ana. How can I help?")
    end
  end

  def reply(conv, visitor_message)
    later do
      # A brand-new conversation hears the greeting first.
      sleep AGENT_DELAY * 2 unless conv[:assigned]
      # The agent reads the visitor's message, then answers.
      visitor_message[:status] = "read"
      broadcast(conv, "message.updated", Payloads.message(visitor_message))
      say(conv, "You said: #{visitor_message[:content]}") if Store.agent_status == "online"
    end
  end
end

module ApplicationCable
  class Connection < ActionCable::Connection::Base; end
  class Channel < ActionCable::Channel::Base; end
end

class RoomChannel < ApplicationCable::Channel
  # Like Chatwoot: an unknown token raises, so the subscription is neither confirmed nor rejected.
  def subscribed
    contact = Store.contact_by_token(params[:pubsub_token])
    raise ArgumentError, "unknown pubsub_token" unless contact
    stream_from params[:pubsub_token]
  end

  def update_presence
    status = { "online" => "online", "away" => "busy" }.fetch(Store.agent_status, "offline")
    ActionCable.server.broadcast(params[:pubsub_token], { event: "presence.update", data: { account_id: 1, users: { "1" => status } } })
  end
end
