# puma -b tcp://127.0.0.1:PORT tests/backends/voxsig/config.ru
require_relative "rest"

cable = ActionCable.server
refusing_cable = lambda do |env|
  Store.refusing? ? [503, { "content-type" => "text/plain" }, ["refusing connections"]] : cable.call(env)
end

map("/cable") { run refusing_cable }
map("/") do
  use FaultInjector
  run VoxsigApi.new
end
