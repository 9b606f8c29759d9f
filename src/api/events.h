#pragma once
// Live events for GET /api/events (Server-Sent Events): each write of a run, a job, a deploy
// or an incident becomes one event, formatted once and kept in a ring of the newest ones;
// each subscriber is a position in that ring, woken when it grows, so a thousand open
// streams cost a thousand positions and one wake-up each per event, never a copy each.
//
//   id: 42
//   event: run            (run, job, deploy, incident, monitor; reset when a subscriber fell
//                          behind)
//   data: {"id": 7, "project": "web", "state": "running", …}
//
// A client that reconnects with Last-Event-ID gets what it missed while the ring still holds
// it, else a `reset` (reload everything). A comment line every 15 s (with the id read up to)
// keeps proxies from closing a quiet stream. A stream ends after 15 minutes: clients reconnect,
// and their token is checked again.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "api/http.h"
#include "monitor/watcher.h"
#include "store/store.h"

namespace boucle::api {

class EventHub : public store::StoreObserver {
 public:
  explicit EventHub(size_t keep = 1024);
  ~EventHub() override;

  void runChanged(const store::Run& r) override;
  void jobChanged(std::string_view project, const store::JobRecord& j) override;
  void deployChanged(const store::Deploy& d) override;
  void incidentChanged(const store::Incident& i) override;
  // A monitor's state changed (up, failing, down, no_data), with the verdict that changed it.
  void monitorChanged(const monitor::ProbeStatus& s);

  // `json` one line; `project` what ?project= filters on.
  void publish(std::string_view type, std::string_view project, const std::string& json);

  // Servers sharing a database: each event published here also goes to `relay` (for the
  // other servers' clients), and theirs come in through heard(). Event ids are each server's
  // own: a client that reconnects to another server reloads.
  using Relay =
      std::function<void(std::string_view type, std::string_view project, const std::string& json)>;
  void setRelay(Relay relay) { relay_ = std::move(relay); }
  void heard(std::string_view type, std::string_view project, const std::string& json) {
    deliver(type, project, json);
  }

  // The events after `lastId` (none: from now on) of `project` ("" any), as an SSE body.
  std::shared_ptr<BodyStream> subscribe(std::string project, std::optional<uint64_t> lastId);

  struct State;

 private:
  void deliver(std::string_view type, std::string_view project, const std::string& json);
  std::shared_ptr<State> state_;
  Relay relay_;
};

}  // namespace boucle::api
