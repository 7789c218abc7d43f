# The public client API (/public/api/v1/inboxes/{inbox}/...) and the control API (/_control/...).
require_relative "app"

class VoxsigApi
  CORS = { "access-control-allow-origin" => "*", "access-control-allow-headers" => "content-type",
           "access-control-allow-methods" => "GET, POST, PATCH, OPTIONS" }.freeze

  def call(env)
    req = Rack::Request.new(env)
    return [204, CORS.dup, []] if req.request_method == "OPTIONS"
    path = req.path_info
    if path.start_with?("/_control/")
      control(req, path.delete_prefix("/_control"))
    elsif Store.refusing?
      json(503, { error: "refusing connections (control API)" })
    elsif (m = %r{\A/public/api/v1/inboxes/([^/]+)(/.*)?\z}.match(path))
      return json(404, { error: "inbox not found" }) unless m[1] == INBOX
      public_api(req, m[2] || "/")
    else
      json(404, { error: "not found" })
    end
  rescue JSON::ParserError
    json(400, { error: "body is not JSON" })
  end

  private

  def json(status, body) = [status, CORS.merge("content-type" => "application/json"), [JSON.generate(body)]]

  def body(req)
    raw = req.body&.read.to_s
    raw.empty? ? {} : JSON.parse(raw)
  end

  def public_api(req, path)
    verb = req.request_method
    case [verb, path]
    in ["POST", "/contacts"]
      b = body(req)
      c = { id: Store.next_id(:contact), source_id: SecureRandom.uuid, pubsub_token: SecureRandom.hex(12),
            name: b["name"] || "", email: b["email"] }
      Store.sync { Store.contacts[c[:source_id]] = c }
      json(200, c.slice(:source_id, :pubsub_token, :id, :name, :email).merge(phone_number: nil))
    in [_, %r{\A/contacts/([^/]+)(/.*)?\z}]
      contact = Store.contacts[$1]
      return json(404, { error: "contact not found" }) unless contact
      contact_api(req, verb, contact, $2 || "")
    else
      json(404, { error: "no route #{verb} #{path}" })
    end
  end

  def contact_api(req, verb, contact, rest)
    case [verb, rest]
    in ["GET", ""] then json(200, contact.slice(:source_id, :pubsub_token, :id, :name, :email))
    in ["PATCH", ""]
      b = body(req)
      contact[:name] = b["name"] if b["name"]
      contact[:email] = b["email"] if b["email"]
      json(200, contact.slice(:source_id, :pubsub_token, :id, :name, :email))
    in ["GET", "/conversations"]
      json(200, Store.conversations.values.select { |c| c[:source_id] == contact[:source_id] }.map { |c| public_conversation(c) })
    in ["POST", "/conversations"]
      conv = { id: Store.next_id(:conversation), source_id: contact[:source_id], status: "open",
               created_at: Time.now.to_i, assigned: false }
      Store.sync { Store.conversations[conv[:id]] = conv }
      broadcast(conv, "conversation.created", Payloads.conversation(conv))
      Agent.join(conv)
      json(200, public_conversation(conv))
    in [_, %r{\A/conversations/(\d+)(/.*)?\z}]
      conv = Store.conversations[$1.to_i]
      return json(404, { error: "conversation not found" }) unless conv && conv[:source_id] == contact[:source_id]
      conversation_api(req, verb, conv, $2 || "")
    else
      json(404, { error: "no route #{verb} #{rest}" })
    end
  end

  def conversation_api(req, verb, conv, rest)
    case [verb, rest]
    in ["GET", ""] then json(200, public_conversation(conv))
    in ["GET", "/messages"]
      after = req.params["after"]&.to_i
      before = req.params["before"]&.to_i
      list = Store.sync { Store.messages.select { |m| m[:conversation_id] == conv[:id] } }
      list = list.select { |m| m[:id] > after } if after
      list = list.select { |m| m[:id] < before } if before
      json(200, list.sort_by { |m| m[:id] }.map { |m| Payloads.message(m) })
    in ["POST", "/messages"]
      b = body(req)
      content = b["content"].to_s
      return json(422, { error: "content is empty" }) if content.strip.empty?
      echo = b["echo_id"]
      # A retried POST with the same echo_id returns the first one instead of a duplicate.
      existing = echo && Store.sync { Store.messages.find { |m| m[:conversation_id] == conv[:id] && m[:echo_id] == echo } }
      return json(200, Payloads.message(existing)) if existing
      conv[:status] = "open" if conv[:status] == "resolved"
      m = add_message(conv, content, 0, echo_id: echo)
      Store.sync { Store.received << { conversation_id: conv[:id], content: content, echo_id: echo, at: Time.now.to_f } }
      Agent.reply(conv, m)
      json(200, Payloads.message(m))
    in ["POST", "/toggle_typing"] then json(200, { typing_status: body(req)["typing_status"] })
    in ["POST", "/update_last_seen"] then json(200, { contact_last_seen_at: Time.now.to_i })
    in ["POST", "/toggle_status"]
      conv[:status] = conv[:status] == "resolved" ? "open" : "resolved"
      broadcast(conv, "conversation.status_changed", Payloads.conversation(conv))
      json(200, public_conversation(conv))
    else
      json(404, { error: "no route #{verb} #{rest}" })
    end
  end

  def public_conversation(conv)
    { id: conv[:id], uuid: "conv-#{conv[:id]}", inbox_id: 1, contact_last_seen_at: 0, status: conv[:status],
      agent_last_seen_at: 0, messages: [], contact: Payloads.contact(Store.contacts[conv[:source_id]]) }
  end

  def open_conversations(b)
    Store.conversations.values.select { |c| c[:status] != "resolved" && (b["conversation_id"].nil? || c[:id] == b["conversation_id"]) }
  end

  def control(req, route)
    b = req.post? ? body(req) : {}
    case [req.request_method, route]
    in ["GET", "/health"] then json(200, { ok: true, backend: "voxsig", inbox: INBOX })
    in ["GET", "/received"] then json(200, Store.received)
    in ["POST", "/agent/say"]
      open_conversations(b).each { |c| add_message(c, b["text"].to_s, 1) }
      json(200, { ok: true })
    in ["POST", "/agent/typing"]
      open_conversations(b).each { |c| Agent.typing(c, b["on"] != false) }
      json(200, { ok: true })
    in ["POST", "/agent/presence"]
      Store.agent_status = %w[online away offline].include?(b["status"]) ? b["status"] : "online"
      status = { "online" => "online", "away" => "busy" }.fetch(Store.agent_status, "offline")
      Store.contacts.each_value do |c|
        ActionCable.server.broadcast(c[:pubsub_token], { event: "presence.update", data: { account_id: 1, users: { "1" => status } } })
      end
      json(200, { ok: true })
    in ["POST", "/agent/end"]
      open_conversations(b).each do |c|
        c[:status] = "resolved"
        broadcast(c, "conversation.status_changed", Payloads.conversation(c))
      end
      json(200, { ok: true })
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
      json(404, { error: "no control route #{route}" })
    end
  end
end
