# The public client API (/public/api/v1/inboxes/{inbox}/...), as Chatwoot's
# app/controllers/public/api/v1/inboxes/* answer it, the fault injection for it, and the control
# API (/_control/...).
require_relative "app"

def haikunate = "#{%w[frosty wild quiet sparkling misty bold].sample}-#{%w[pine river moon field cloud stone].sample}-#{rand(1000..9999)}"

# Strong parameters as Rails applies `params.permit(submitted_values: [:name, :title, :value,
# { csat_survey_response: [:feedback_message, :rating] }])` (message_update_params in CW
# app/controllers/public/api/v1/inboxes/messages_controller.rb): a hash keeps only those keys with
# scalar values; an array keeps its hash elements, each filtered the same way; anything else is
# dropped (:absent = nothing to update).
module Permit
  SCALAR = [String, Numeric, TrueClass, FalseClass, NilClass].freeze
  module_function

  def scalar?(v) = SCALAR.any? { |k| v.is_a?(k) }

  def hash(h)
    out = {}
    %w[name title value].each { |k| out[k] = h[k] if h.key?(k) && scalar?(h[k]) }
    csat = h["csat_survey_response"]
    if csat.is_a?(Hash)
      out["csat_survey_response"] = csat.slice("feedback_message", "rating").select { |_, v| scalar?(v) }
    elsif csat.is_a?(Array)
      out["csat_survey_response"] = csat.grep(Hash).map { |c| c.slice("feedback_message", "rating").select { |_, v| scalar?(v) } }
    end
    out
  end

  def submitted_values(body)
    return :absent unless body.is_a?(Hash) && body.key?("submitted_values")
    v = body["submitted_values"]
    case v
    when Hash then hash(v)
    when Array then v.grep(Hash).map { |e| hash(e) }
    else :absent
    end
  end
end

# Faults for the public API: lose the answer after the request was executed and committed, or
# hang a request. Each rule applies to the next `count` public-API requests whose
# "METHOD /path?query" contains `match` (all when absent).
module Faults
  @rules = { lose_answer: nil, hang: nil }
  class << self
    def set(kind, rule) = Store.sync { @rules[kind] = rule[:count].positive? ? rule : nil }
    def to_h = Store.sync { @rules.transform_values { |r| r&.dup } }

    def take(kind, desc)
      Store.sync do
        r = @rules[kind]
        next nil unless r && r[:count].positive? && (r[:match].to_s.empty? || desc.include?(r[:match]))
        r[:count] -= 1
        @rules[kind] = nil if r[:count].zero?
        r.dup
      end
    end
  end
end

class FaultInjector
  def initialize(app) = @app = app

  def call(env)
    return @app.call(env) unless env["PATH_INFO"].start_with?("/public/api/") && env["REQUEST_METHOD"] != "OPTIONS"
    desc = "#{env['REQUEST_METHOD']} #{env['PATH_INFO']}#{env['QUERY_STRING'].to_s.empty? ? '' : "?#{env['QUERY_STRING']}"}"
    hang = Faults.take(:hang, desc)
    sleep hang[:seconds] if hang && hang[:phase] != "after"
    lose = Faults.take(:lose_answer, desc)
    status, headers, body = @app.call(env)
    sleep hang[:seconds] if hang && hang[:phase] == "after"
    return [status, headers, body] unless lose
    # Executed and committed; now the connection closes without an answer, so the client's
    # fetch fails with a network error (as a proxy timeout or a dropped mobile link would).
    # mode "close" (default) closes before any byte of the answer: Chromium then resends the
    # request by itself when the connection was a reused keep-alive one (its
    # HttpNetworkTransaction::ShouldResendRequest), POSTs included, so the server sees it
    # twice — real browsers do this to real Chatwoot too. mode "truncate" sends the status line
    # and headers and cuts the body, which no browser resends: the answer is lost for good.
    body.close if body.respond_to?(:close)
    LOG.info("fault: lost the answer to #{desc} (#{status}, #{lose[:mode] || 'close'})")
    io = env["rack.hijack"]&.call
    if lose[:mode] == "truncate"
      io&.write("HTTP/1.1 #{status} OK\r\ncontent-type: application/json\r\n" \
                "access-control-allow-origin: *\r\ncontent-length: 100000\r\n\r\n{")
    end
    io&.close
    [-1, {}, []]
  end
end

class VoxsigApi
  CORS = { "access-control-allow-origin" => "*", "access-control-allow-headers" => "content-type",
           "access-control-allow-methods" => "GET, POST, PATCH, DELETE, OPTIONS" }.freeze
  NOT_FOUND = { error: "Resource could not be found" }.freeze

  def call(env)
    req = Rack::Request.new(env)
    return [204, CORS.dup, []] if req.request_method == "OPTIONS"
    path = req.path_info
    if path.start_with?("/_control/")
      Store.sync { control(req, path.delete_prefix("/_control")) }
    elsif path.start_with?("/rails/active_storage/")
      png = path.include?("thumb") ? SamplePng::THUMB : SamplePng::FULL
      [200, CORS.merge("content-type" => "image/png", "cache-control" => "max-age=3600"), [png]]
    elsif Store.refusing?
      json(503, { error: "refusing connections (control API)" })
    elsif (m = %r{\A/public/api/v1/inboxes/([^/]+)(/.*)?\z}.match(path))
      # Channel::Api.find_by!(identifier:) (CW app/controllers/public/api/v1/inboxes_controller.rb).
      return json(404, NOT_FOUND) unless m[1] == INBOX
      Store.sync { public_api(req, m[2] || "/") }
    else
      json(404, { error: "not found" })
    end
  rescue JSON::ParserError
    json(400, { error: "body is not JSON" })
  end

  private

  def json(status, body) = [status, CORS.merge("content-type" => "application/json"), [JSON.generate(body)]]

  # `head :ok`: 200 with an empty body.
  def head_ok = [200, CORS.dup, []]

  def body(req)
    return req.POST if %w[application/x-www-form-urlencoded multipart/form-data].include?(req.media_type)
    raw = req.body&.read.to_s
    req.body&.rewind
    raw.strip.empty? ? {} : JSON.parse(raw)
  end

  def scalar(v) = v.is_a?(Hash) || v.is_a?(Array) ? nil : v&.to_s

  def public_api(req, path)
    verb = req.request_method
    case [verb, path]
    in ["POST", "/contacts"] then create_contact(body(req))
    in [_, %r{\A/contacts/([^/]+)(/.*)?\z}]
      # inbox.contact_inboxes.find_by!(source_id:) (CW app/controllers/public/api/v1/inboxes_controller.rb#set_contact_inbox).
      ci = Store.contact_inboxes[Rack::Utils.unescape_path($1)]
      return json(404, NOT_FOUND) unless ci
      contact_api(req, verb, ci, $2 || "")
    else
      json(404, NOT_FOUND)
    end
  end

  # ContactInboxWithContactBuilder (CW app/builders/contact_inbox_with_contact_builder.rb): an
  # existing source_id returns its contact_inbox; otherwise a contact with the same identifier,
  # email or phone number gets a new contact_inbox (same contact, new source_id and token);
  # otherwise a new contact named by Haikunator.
  def create_contact(b)
    source_id = scalar(b["source_id"])
    if source_id && (ci = Store.contact_inboxes[source_id])
      return json(200, Payloads.public_contact(ci))
    end
    now = Time.now.to_f
    attrs = { identifier: scalar(b["identifier"]), email: scalar(b["email"]), phone_number: scalar(b["phone_number"]) }
    contact = Store.contacts.values.find { |c| attrs[:identifier] && c[:identifier] == attrs[:identifier] } ||
              Store.contacts.values.find { |c| attrs[:email] && c[:email]&.casecmp?(attrs[:email]) } ||
              Store.contacts.values.find { |c| attrs[:phone_number] && c[:phone_number] == attrs[:phone_number] }
    unless contact
      contact = attrs.merge(id: Store.next_id(:contact), name: scalar(b["name"]) || haikunate,
                            additional_attributes: {}, custom_attributes: b["custom_attributes"].is_a?(Hash) ? b["custom_attributes"] : {},
                            created_at: now, updated_at: now)
      Store.contacts[contact[:id]] = contact
    end
    # has_secure_token :pubsub_token (24 base58 characters).
    ci = { id: Store.next_id(:contact_inbox), source_id: source_id || SecureRandom.uuid,
           pubsub_token: SecureRandom.base58(24), contact_id: contact[:id], created_at: now }
    Store.contact_inboxes[ci[:source_id]] = ci
    json(200, Payloads.public_contact(ci))
  end

  def contact_api(req, verb, ci, rest)
    contact = Store.contacts[ci[:contact_id]]
    case [verb, rest]
    in ["GET", ""] then json(200, Payloads.public_contact(ci))
    in ["PATCH", ""]
      # ContactIdentifyAction (CW app/actions/contact_identify_action.rb), rendered as the bare
      # Contact record. (Merging into another contact with the same email is not imitated.)
      b = body(req)
      %w[name email phone_number].each { |k| contact[k.to_sym] = scalar(b[k]) if b.key?(k) }
      contact[:custom_attributes] = contact[:custom_attributes].merge(b["custom_attributes"]) if b["custom_attributes"].is_a?(Hash)
      contact[:updated_at] = Time.now.to_f
      json(200, Payloads.contact_record(contact))
    in ["GET", "/conversations"]
      # @contact_inbox.conversations (CW app/controllers/public/api/v1/inboxes/conversations_controller.rb#index).
      list = Store.conversations.values.select { |c| c[:source_id] == ci[:source_id] }.sort_by { |c| c[:id] }
      json(200, list.map { |c| Payloads.public_conversation(c) })
    in ["POST", "/conversations"]
      # ConversationBuilder (CW app/builders/conversation_builder.rb): always a new conversation
      # (lock_to_single_conversation is off for API inboxes); conversation.created to the contact.
      now = Time.now.to_f
      conv = { id: Store.next_id(:conversation), uuid: SecureRandom.uuid, source_id: ci[:source_id],
               contact_id: ci[:contact_id], status: "open", assignee_id: nil, created_at: now, updated_at: now,
               last_activity_at: now, contact_last_seen_at: 0, agent_last_seen_at: 0, first_reply_created_at: nil }
      Store.conversations[conv[:id]] = conv
      Broadcaster.perform_later(contact_token(conv), "conversation.created", Payloads.push_conversation(conv))
      Agent.join(conv)
      json(200, Payloads.public_conversation(conv))
    in [_, %r{\A/conversations/(\d+)(/.*)?\z}]
      # @contact_inbox.conversations.find_by!(display_id:) (CW app/controllers/public/api/v1/inboxes_controller.rb).
      conv = Store.conversations[$1.to_i]
      return json(404, NOT_FOUND) unless conv && conv[:source_id] == ci[:source_id]
      conversation_api(req, verb, conv, $2 || "")
    else
      json(404, NOT_FOUND)
    end
  end

  def conversation_api(req, verb, conv, rest)
    case [verb, rest]
    in ["GET", ""] then json(200, Payloads.public_conversation(conv))
    in ["GET", "/messages"]
      # message_finder_params passes only `before` (CW app/controllers/public/api/v1/inboxes/messages_controller.rb):
      # `after` is ignored. MessageFinder (CW app/finders/message_finder.rb): filter_internal_messages
      # drops private notes and activity (message_type 2); no before → messages_latest, with before →
      # messages_before: order created_at desc, limit 20, then reversed (oldest first).
      before = req.GET["before"]
      list = Payloads.chat_messages(conv)
      list = list.select { |m| m[:id] < before.to_i } if before.is_a?(String) && !before.strip.empty?
      page = list.sort_by { |m| [m[:created_at], m[:id]] }.reverse.first(20).reverse
      json(200, page.map { |m| Payloads.rest_message(m) })
    in ["POST", "/messages"] then create_incoming(req, conv)
    in ["PATCH", %r{\A/messages/(\d+)\z}] then update_message(req, conv, $1.to_i)
    in ["POST", "/toggle_status"]
      # Resolves only: `return if @conversation.resolved?`; Current.contact makes the activity
      # "Conversation was resolved by <Name>" (CW app/controllers/public/api/v1/inboxes/conversations_controller.rb,
      # CW app/models/concerns/activity_message_handler.rb); CSAT follows the resolve.
      unless conv[:status] == "resolved"
        set_status(conv, "resolved", activity: "Conversation was resolved by #{Store.contact_of(conv)[:name].to_s.capitalize}")
      end
      json(200, Payloads.public_conversation(conv))
    in ["POST", "/toggle_typing"]
      # Typing events go to the inbox's agents, never back to the contact's own token
      # (typing_event_listener_tokens in CW app/listeners/action_cable_listener.rb); `head :ok`.
      head_ok
    in ["POST", "/update_last_seen"]
      # contact_last_seen_at = now, then Conversations::UpdateMessageStatusJob (queue :deferred,
      # CW app/jobs/conversations/update_message_status_job.rb) marks every non-incoming message
      # still sent/delivered and created before then as read: message.updated for each.
      now = Time.now.to_f
      conv[:contact_last_seen_at] = now
      id = conv[:id]
      Thread.new do
        sleep 0.05 + rand * [Config[:broadcast_jitter_ms], 0].max / 1000.0
        Store.sync do
          Store.conversation_messages(id).each do |m|
            next if m[:message_type] == 0 || !%w[sent delivered].include?(m[:status]) || m[:created_at] > now
            was = m[:status]
            m[:status] = "read"
            m[:updated_at] = Time.now.to_f
            broadcast_message(m, "message.updated", previous_changes: { status: [was, "read"] })
          end
        end
      end
      head_ok
    else
      json(404, NOT_FOUND)
    end
  end

  # MessagesController#create (CW app/controllers/public/api/v1/inboxes/messages_controller.rb):
  # permitted_params are content and echo_id; the message is always new (echo_id is an
  # attr_accessor on Message, never stored nor looked up, CW app/models/message.rb); content may be
  # empty. Multipart attachments[] are not imitated.
  def create_incoming(req, conv)
    b = body(req)
    content = scalar(b["content"])
    echo = scalar(b["echo_id"])
    m, error = create_message(conv, { message_type: 0, content: content, sender: :contact, contact_id: conv[:contact_id] },
                              echo_id: echo)
    # Message#prevent_message_flooding → RecordInvalid → render_record_invalid
    # (CW app/controllers/concerns/request_exception_handler.rb).
    return json(422, { message: error, attributes: ["base"] }) unless m
    Store.received << { conversation_id: conv[:id], message_id: m[:id], content: content, echo_id: echo, at: Time.now.to_f }
    Agent.reply(conv, m)
    json(200, Payloads.rest_message(m))
  end

  # MessagesController#update: 422 for an input_csat message created more than 14 days ago
  # (check_csat_locked compares calendar dates), then @message.update!(message_update_params):
  # only submitted_values is taken, stored in content_attributes.submitted_values; the update
  # broadcasts message.updated (after_update_commit dispatch_update_event in CW app/models/message.rb)
  # and CsatSurveyListener records the rating. No contact update happens here, not even for
  # input_email (only the widget API, CW app/controllers/api/v1/widget/messages_controller.rb,
  # sets submitted_email and the contact's email).
  def update_message(req, conv, id)
    m = Store.messages[id]
    return json(404, NOT_FOUND) unless m && m[:conversation_id] == conv[:id]
    if m[:content_type] == "input_csat" && (Time.now.utc.to_date - Time.at(m[:created_at]).utc.to_date).to_i > 14
      return json(422, { error: "You cannot update the CSAT survey after 14 days" })
    end
    values = Permit.submitted_values(body(req))
    if values != :absent && m[:content_attributes][:submitted_values] != values
      old = m[:content_attributes]
      m[:content_attributes] = old.merge(submitted_values: values)
      was = m[:updated_at]
      m[:updated_at] = Time.now.to_f
      broadcast_message(m, "message.updated", previous_changes: { content_attributes: [old, m[:content_attributes]],
                                                                  updated_at: [iso(was), iso(m[:updated_at])] })
    end
    json(200, Payloads.rest_message(m))
  end

  # --- control API --------------------------------------------------------------------------

  def targets(b)
    id = b["conversation_id"]
    Store.conversations.values.select { |c| c[:status] != "resolved" && (id.nil? || c[:id] == id.to_i) }.sort_by { |c| c[:id] }
  end

  def from(m)
    case m[:message_type]
    when 0 then "visitor"
    when 2 then "system"
    when 3 then "bot"
    else m[:sender] == :bot ? "bot" : "agent"
    end
  end

  def stored(m)
    { id: m[:id], conversation_id: m[:conversation_id], from: from(m), message_type: m[:message_type],
      content_type: m[:content_type], content: m[:content], content_attributes: m[:content_attributes],
      private: m[:private], status: m[:status], created_at: m[:created_at].to_i, at: (m[:created_at] * 1000).to_i,
      attachments: Payloads.attachments(m) }
  end

  def delete_conversation(id)
    Store.conversations.delete(id)
    Store.messages.delete_if { |_, m| m[:conversation_id] == id }
  end

  def control(req, route)
    b = req.post? ? body(req) : {}
    b = {} unless b.is_a?(Hash)
    case [req.request_method, route]
    in ["GET", "/health"] then json(200, { ok: true, backend: "voxsig", inbox: INBOX })
    in ["GET", "/received"] then json(200, Store.received)
    # Cable connections held now: what a page's tabs cost the server.
    in ["GET", "/connections"] then json(200, { open: ActionCable.server.connections.size })
    in ["GET", "/conversations"]
      convs = Store.conversations.values.sort_by { |c| c[:id] }.map do |c|
        { id: c[:id], status: c[:status], visitor: Store.contact_of(c)&.dig(:name).to_s, source_id: c[:source_id],
          contact_id: c[:contact_id],
          messages: Store.conversation_messages(c[:id]).map do |m|
            { id: m[:id], from: from(m), text: m[:content].to_s,
              kind: m[:attachments].any? { |a| a[:file_type] == "image" } ? "image" : m[:content_type],
              at: (m[:created_at] * 1000).to_i }
          end }
      end
      json(200, { backend: "voxsig",
                  features: { typing: true, presence: true,
                              rich: %w[input_select cards form input_email article csat image] },
                  conversations: convs })
    in ["GET", "/messages"]
      id = req.GET["conversation_id"]
      list = Store.messages.values.select { |m| id.nil? || id.empty? || m[:conversation_id] == id.to_i }.sort_by { |m| m[:id] }
      json(200, list.map { |m| stored(m) })
    in ["GET", "/config"] then json(200, Config.to_h)
    in ["POST", "/config"] then json(200, Config.update(b))
    in ["GET", "/faults"] then json(200, Faults.to_h)
    in ["POST", "/agent/say"]
      ids = targets(b).map { |c| Agent.message(c, b["text"].to_s)&.dig(:id) }
      json(200, { ok: true, message_ids: ids.compact })
    in ["POST", "/agent/burst"]
      n = [[b["n"].to_i, 1].max, 200].min
      ids = targets(b).flat_map { |c| (1..n).map { |i| Agent.message(c, "#{b['text'] || 'burst'} #{i}/#{n}")&.dig(:id) } }
      json(200, { ok: true, message_ids: ids.compact })
    in ["POST", "/agent/rich"]
      kinds = %w[input_select cards form article input_email csat image]
      return json(501, { error: "unknown kind #{b['kind'].inspect}", kinds: kinds }) unless kinds.include?(b["kind"])
      ids = targets(b).flat_map { |c| Agent.rich(c, b["kind"]).map { |m| m[:id] } }
      json(200, { ok: true, message_ids: ids })
    in ["POST", "/agent/raw"]
      # A message with whatever an agent or a bot can put in each field, for the hostile-content
      # test: a user's name and avatar are theirs to set (CW app/models/user.rb), an AgentBot's
      # name and avatar too (CW app/models/agent_bot.rb), and ContentAttributeValidator checks
      # the shape of cards, forms and selects, never the text or URLs in them
      # (CW app/models/concerns/content_attribute_validator.rb). Attachments are given as
      # Attachment#push_event_data (CW app/models/attachment.rb), URLs as given.
      atts = Array(b["attachments"]).select { |a| a.is_a?(Hash) }.map do |a|
        { id: Store.next_id(:attachment), file_type: a["file_type"].to_s.empty? ? "file" : a["file_type"].to_s,
          extension: a["extension"].to_s, data_url: a["data_url"].to_s, thumb_url: a["thumb_url"].to_s,
          file_size: a["file_size"].to_i, width: nil, height: nil }
      end
      override = b["sender"].is_a?(Hash) ? b["sender"].slice("name", "available_name", "avatar_url", "thumbnail").transform_keys(&:to_sym) : nil
      attrs = { message_type: 1, sender: b["bot"] ? :bot : :user, user_id: b["bot"] ? nil : 1,
                content: b["content"]&.to_s, content_type: (b["content_type"] || "text").to_s,
                content_attributes: b["content_attributes"].is_a?(Hash) ? b["content_attributes"] : {},
                attachments: atts, sender_override: override }
      ids = targets(b).map { |c| Agent.message_with(c, attrs)&.dig(:id) }
      json(200, { ok: true, message_ids: ids.compact })
    in ["POST", "/agent/typing"]
      targets(b).each { |c| Agent.typing(c, b["on"] != false) }
      json(200, { ok: true })
    in ["POST", "/agent/presence"]
      # OnlineStatusTracker.set_status (CW lib/online_status_tracker.rb): availability online | busy | offline.
      # Nothing is pushed: presence.update only answers a contact's own subscribe/update_presence
      # (CW app/channels/room_channel.rb).
      user = Presence::USERS[(b["user_id"] || 1).to_i]
      return json(404, { error: "no such user" }) unless user
      user[:status] = { "online" => "online", "away" => "busy", "busy" => "busy" }.fetch(b["status"].to_s, "offline")
      unless b["dashboard"].nil?
        user[:seen_at] = Time.now.to_f if user[:dashboard]
        user[:dashboard] = b["dashboard"] != false
      end
      json(200, { ok: true, users: Presence.available_users })
    in ["POST", "/agent/end"]
      targets(b).each { |c| resolve_by_agent(c) }
      json(200, { ok: true })
    in ["POST", "/agent/delete_message"]
      m = if b["message_id"]
            Store.messages[b["message_id"].to_i]
          else
            Store.messages.values.select do |x|
              x[:message_type] == 1 && !x[:content_attributes][:deleted] &&
                (b["conversation_id"].nil? || x[:conversation_id] == b["conversation_id"].to_i)
            end.max_by { |x| x[:id] }
          end
      return json(404, { error: "no such message" }) unless m
      delete_message(m)
      json(200, { ok: true, message_id: m[:id] })
    in ["POST", "/delete"]
      # Deleting a contact removes its contact_inboxes (tokens), conversations and messages
      # (dependent: :destroy_async in CW app/models/contact.rb); REST then answers 404 and a
      # subscribe with the old token gets silence. Nothing is broadcast to the contact.
      if b["conversation_id"]
        return json(404, { error: "no such conversation" }) unless Store.conversations[b["conversation_id"].to_i]
        delete_conversation(b["conversation_id"].to_i)
        json(200, { ok: true, conversations: [b["conversation_id"].to_i] })
      elsif b["contact"]
        ids = if b["contact"] == "all"
                Store.contacts.keys
              else
                [Store.contact_inboxes[b["contact"].to_s]&.dig(:contact_id)].compact
              end
        return json(404, { error: "no such contact" }) if ids.empty?
        convs = Store.conversations.values.select { |c| ids.include?(c[:contact_id]) }.map { |c| c[:id] }
        convs.each { |id| delete_conversation(id) }
        Store.contact_inboxes.delete_if { |_, ci| ids.include?(ci[:contact_id]) }
        ids.each { |id| Store.contacts.delete(id) }
        json(200, { ok: true, contacts: ids, conversations: convs })
      else
        json(400, { error: "give contact (a source_id or \"all\") or conversation_id" })
      end
    in ["POST", "/age"]
      # Makes messages older (for the CSAT 14-day lock): the message and every earlier message of
      # its conversation (or the whole conversation) move `days` into the past, keeping their order.
      m = b["message_id"] && Store.messages[b["message_id"].to_i]
      conv_id = m ? m[:conversation_id] : b["conversation_id"]&.to_i
      return json(404, { error: "give message_id or conversation_id" }) unless conv_id && Store.conversations[conv_id]
      shift = b["days"].to_f * 86_400
      Store.conversation_messages(conv_id).each { |x| x[:created_at] -= shift if m.nil? || x[:id] <= m[:id] }
      json(200, { ok: true })
    in ["POST", "/fault/lose_answer"]
      Faults.set(:lose_answer, { count: b["count"].to_i, match: b["match"], mode: b["mode"] })
      json(200, { ok: true, faults: Faults.to_h })
    in ["POST", "/fault/hang"]
      Faults.set(:hang, { count: b["count"].to_i, seconds: b["seconds"].to_f, match: b["match"], phase: b["phase"] || "before" })
      json(200, { ok: true, faults: Faults.to_h })
    in ["POST", "/drop"]
      # As if the network failed: close sockets without ActionCable's disconnect message.
      ActionCable.server.connections.each { |conn| conn.send(:websocket).close }
      json(200, { ok: true })
    in ["POST", "/refuse"]
      Store.refuse_until = Time.now + b["seconds"].to_f
      json(200, { ok: true })
    in ["POST", "/restart"]
      ActionCable.server.connections.each { |conn| conn.close(reason: "server_restart", reconnect: true) }
      json(200, { ok: true })
    else
      json(404, { error: "no control route #{req.request_method} #{route}" })
    end
  end
end
