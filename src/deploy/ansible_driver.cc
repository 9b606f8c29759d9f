#include "deploy/ansible_driver.h"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "deploy/step.h"
#include "os/files.h"
#include "os/process.h"
#include "vault/blob_store.h"

extern char** environ;

namespace boucle::deploy {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The host's name in the inventory (and for --limit): its address, with the port when given.
std::string inventoryName(const Host& h) {
  return h.port ? h.address + "_" + std::to_string(h.port) : h.address;
}

std::string inventoryOf(const Target& t) {
  std::string out = "[boucle]\n";
  for (const auto& h : t.hosts) {
    out += inventoryName(h);
    if (h.address == "localhost") {
      out += " ansible_connection=local";
    } else {
      out += " ansible_host=" + h.address;
      if (h.port) out += " ansible_port=" + std::to_string(h.port);
      if (!h.user.empty()) out += " ansible_user=" + h.user;
    }
    out += "\n";
  }
  out += "\n[boucle:vars]\n";
  bool interpreter = false;
  for (const auto& [key, value] : t.values) {
    if (!key.starts_with("env.ansible_")) continue;
    // A value is one line of the inventory: a new line would start another variable.
    std::string v = value.substr(0, value.find('\n'));
    out += key.substr(4) + "=" + v + "\n";
    interpreter = interpreter || key == "env.ansible_python_interpreter";
  }
  if (auto cfg = t.values.find("env.ssh_config"); cfg != t.values.end() && !cfg->second.empty()) {
    out += "ansible_ssh_common_args=-F " + shellQuote(cfg->second) + "\n";
  }
  if (!interpreter) out += "ansible_python_interpreter=auto_silent\n";
  return out;
}

// What failed on which host, from ansible-playbook's output: its "fatal: [HOST]: …" lines, or
// the hosts its recap counts as failed or unreachable.
std::string failedHosts(const std::string& output) {
  std::string out;
  for (const auto& line : split(output, '\n')) {
    if (!line.starts_with("fatal: [")) continue;
    std::string text = line.substr(7);
    if (text.size() > 300) text = text.substr(0, 300) + "…";
    out += (out.empty() ? "" : "; ") + text;
  }
  return out;
}

class AnsibleRun {
 public:
  AnsibleRun(const Target& t, const fs::path& blobRoot, const fs::path& workRoot, DeployLog& log)
      : t_(t), blobRoot_(blobRoot), log_(log) {
    std::error_code ec;
    fs::create_directories(workRoot, ec);
    std::string tmpl = (workRoot / "ansible-XXXXXX").string();
    if (::mkdtemp(tmpl.data())) work_ = tmpl;  // 0700: the variables hold secrets
    char control[] = "/tmp/boucle-ans-XXXXXX";
    if (::mkdtemp(control)) control_ = control;
  }
  ~AnsibleRun() {
    // Ansible's ssh masters would keep sessions open for their ControlPersist time.
    std::error_code ec;
    if (!control_.empty()) {
      for (const auto& sock : fs::directory_iterator(control_, ec)) {
        (void)os::runAndCapture(
            {"ssh", "-o", "ControlPath=" + sock.path().string(), "-O", "exit", "boucle"});
      }
      fs::remove_all(control_, ec);
    }
    if (!work_.empty()) fs::remove_all(work_, ec);
  }
  AnsibleRun(const AnsibleRun&) = delete;
  AnsibleRun& operator=(const AnsibleRun&) = delete;

  // The playbook's checkout, the inventory, the variables. "" or what went wrong.
  std::string prepare() {
    if (work_.empty()) return "cannot make a working folder";
    auto bin = os::findOnPath("ansible-playbook");
    if (!bin.ok()) return "ansible-playbook is not installed (apt-get install ansible)";
    binary_ = *bin;
    fs::path tar = work_ / "source.tar";
    src_ = work_ / "source";
    fs::create_directories(src_);
    auto archive = os::runAndCapture({"git", "-C", t_.mirror.string(), "archive", "--format=tar",
                                      "-o", tar.string(), t_.release.commit});
    if (!archive.ok() || archive->exitCode != 0) return "cannot read commit " + t_.release.commit;
    auto untar = os::runAndCapture({"tar", "-xf", tar.string(), "-C", src_.string()});
    if (!untar.ok() || untar->exitCode != 0) return "cannot unpack the commit's files";
    fs::remove(tar);
    fs::path playbook = (src_ / t_.spec.playbook).lexically_normal();
    if (!playbook.string().starts_with(src_.string() + "/") || !fs::is_regular_file(playbook)) {
      return "playbook " + t_.spec.playbook + " is not in commit " +
             t_.release.commit.substr(0, 12);
    }
    playbook_ = playbook;

    json vars = {{"release_version", t_.release.version},
                 {"release_commit", t_.release.commit},
                 {"boucle_project", t_.release.project},
                 {"boucle_environment", t_.env}};
    if (auto dir = t_.values.find("release.dir"); dir != t_.values.end()) {
      vars["release_dir"] = dir->second;
    }
    json env = json::object();
    for (const auto& [key, value] : t_.values) {
      if (key.starts_with("env.")) env[key.substr(4)] = value;
    }
    vars["boucle_env"] = env;
    json artifacts = json::object();
    vault::BlobStore blobs(blobRoot_);
    for (const auto& a : json::parse(t_.release.artifactsJson, nullptr, false)) {
      std::string name = a.value("name", ""), sha = a.value("sha256", "");
      auto got = blobs.contains(sha) ? vault::hashFile(blobs.pathOf(sha))
                                     : Result<vault::BlobRef>(Status::NotFound(""));
      if (!got.ok() || got->sha256 != sha) return "artifact " + name + " is missing or damaged";
      // Under its own name (modules such as unarchive go by it), one folder each (two jobs
      // may make files of the same name).
      fs::path folder = work_ / "artifacts" / std::to_string(artifacts.size());
      fs::path link = folder / fs::path(name).filename();
      std::error_code ec;
      fs::create_directories(folder, ec);
      fs::create_symlink(blobs.pathOf(sha), link, ec);
      if (ec) return "artifact " + name + ": " + ec.message();
      artifacts[name] = link.string();
      log_.say("artifact " + name + " checked (sha256 " + sha.substr(0, 16) + "…)");
    }
    vars["boucle_artifacts"] = artifacts;
    if (auto st = os::writeFileAtomic(
            work_ / "vars.json",
            vars.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 0600);
        !st.ok()) {
      return st.message();
    }
    if (auto st = os::writeFileAtomic(work_ / "inventory.ini", inventoryOf(t_), 0600); !st.ok()) {
      return st.message();
    }
    return "";
  }

  std::vector<std::string> argv(const Batch& batch) const {
    std::vector<std::string> a{binary_,
                               "-i",
                               (work_ / "inventory.ini").string(),
                               playbook_.string(),
                               "-e",
                               std::string("@") + (work_ / "vars.json").c_str()};
    if (batch.size() != t_.hosts.size()) {
      std::string limit;
      for (const auto* h : batch) {
        if (!limit.empty()) limit += ',';
        limit += inventoryName(*h);
      }
      a.insert(a.end(), {"--limit", limit});
    }
    return a;
  }

  // One ansible-playbook run for `batch`. "" or what failed.
  std::string play(const Batch& batch) {
    StepRun run;
    run.argv = argv(batch);
    run.cwd = src_;  // the repository's ansible.cfg, roles/ and group_vars/ are found from here
    for (char** e = environ; *e; ++e) {
      if (!std::string_view(*e).starts_with("ANSIBLE_")) run.env.emplace_back(*e);
    }
    run.env.insert(run.env.end(),
                   {"ANSIBLE_NOCOLOR=1", "ANSIBLE_FORCE_COLOR=0", "ANSIBLE_RETRY_FILES_ENABLED=0",
                    "ANSIBLE_LOCAL_TEMP=" + (work_ / "tmp").string(),
                    "ANSIBLE_SSH_ARGS=-o ControlMaster=auto -o ControlPersist=30s -o ControlPath=" +
                        control_.string() + "/%C"});
    run.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(t_.spec.timeout);
    std::string output;
    run.capture = &output;
    auto st = runLogged(run, log_);
    log_.flush();
    if (st.ok()) return "";
    std::string hosts = failedHosts(output);
    return "ansible-playbook " + st.message() + (hosts.empty() ? "" : ": " + hosts);
  }

  const fs::path& source() const { return src_; }
  std::string commandLine() const {
    std::string out;
    Batch all;
    for (const auto& h : t_.hosts) all.push_back(&h);
    for (const auto& a : argv(all)) {
      if (!out.empty()) out += ' ';
      out += shellQuote(a);
    }
    return out;
  }

 private:
  const Target& t_;
  fs::path blobRoot_;
  DeployLog& log_;
  fs::path work_, control_, src_, playbook_;
  std::string binary_;
};

}  // namespace

Outcome deployAnsible(const Target& t, const fs::path& blobRoot, const fs::path& workRoot,
                      DeployLog& log, bool dryRun) {
  Outcome o;
  auto batches = batchesOf(t);
  log.say(describeBatches(t));
  AnsibleRun ansible(t, blobRoot, workRoot, log);
  if (auto err = ansible.prepare(); !err.empty()) {
    o.failure = err;
    return o;
  }
  if (dryRun) {
    log.say("dry run: nothing is touched");
    log.say("would run " + ansible.commandLine() +
            (batches.size() > 1 ? " once per batch (--limit)" : ""));
    for (const auto& h : t.hosts) {
      for (const auto& s : h.plan.smokeTargets) log.say("would check " + s + " (" + h.name + ")");
    }
    o.ok = true;
    return o;
  }
  for (size_t b = 0; b < batches.size(); ++b) {
    const Batch& hosts = batches[b];
    if (batches.size() > 1) log.say("batch " + std::to_string(b + 1) + ": " + namesOf(hosts));
    for (const auto* h : hosts) o.touched.push_back(h->name);
    if (auto err = ansible.play(hosts); !err.empty()) {
      o.failure = err;
      return o;
    }
    for (const auto* h : hosts) {
      HostLog hl(log, h->name);
      bool allOk = true;
      auto results = runSmoke(t, h->plan, ansible.source(), hl, &allOk);
      for (auto& r : results) {
        if (!r.ok && o.failure.empty()) {
          o.failure = "host " + h->name + ": smoke check " + r.check + " failed: " + r.detail;
        }
        r.check = h->name + ": " + r.check;
        o.smoke.push_back(std::move(r));
      }
    }
    if (!o.failure.empty()) return o;
  }
  o.ok = true;
  return o;
}

}  // namespace boucle::deploy
