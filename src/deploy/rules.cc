#include "deploy/rules.h"

namespace boucle::deploy {

bool inWindow(const pipeline::Window& w, std::time_t when) {
  std::tm tm{};
  localtime_r(&when, &tm);
  int minute = tm.tm_hour * 60 + tm.tm_min;
  int day = (tm.tm_wday + 6) % 7;  // Monday = 0
  auto open = [&](int d) { return (w.days >> d) & 1u; };
  if (w.startMinute < w.endMinute) {
    return open(day) && minute >= w.startMinute && minute < w.endMinute;
  }
  return (open(day) && minute >= w.startMinute) || (open((day + 6) % 7) && minute < w.endMinute);
}

Status mayDeploy(const pipeline::Environment& env, const Ask& ask, const History& history,
                 std::time_t now) {
  if (ask.by && !ask.by->admin() && !env.deployers.empty() && !ask.by->namedBy(env.deployers)) {
    return Status::Unauthorized(ask.by->describe() + " may not deploy to " + ask.env +
                                " (its deployers: " + auth::joinRoles(env.deployers) + ")");
  }
  // A rollback goes back to a release that ran here, or one that passed `after` all the same:
  // never a deploy around the environment's order.
  bool ordered = (ask.rollback && history.ranHere) ||
                 (env.after.empty() ? !ask.rollback : history.passedAfter);
  if (!ordered) {
    if (env.after.empty()) {
      return Status::Conflict("a rollback goes back to a release " + ask.env + " ran before; " +
                              ask.version + " never ran there");
    }
    return Status::Conflict(ask.version + " has not succeeded in " + env.after + " yet (" +
                            ask.env + " comes after " + env.after + ")" +
                            (ask.rollback ? ", and never ran in " + ask.env : ""));
  }
  if (env.window && !ask.dryRun && !inWindow(*env.window, now)) {
    return Status::Conflict(ask.env + " takes deploys only in its window (" + env.window->text +
                            ", server time)");
  }
  return Status::Ok();
}

Status mayApprove(const pipeline::Environment* env, const std::string& envName,
                  const auth::Principal& by, const std::string& requestedBy) {
  if (!env) {
    if (by.admin()) return Status::Ok();
    return Status::Unauthorized("the rules of " + envName +
                                " cannot be read: only an admin may approve");
  }
  if (!by.admin() && !by.namedBy(env->approval)) {
    return Status::Unauthorized(by.describe() + " may not approve deploys to " + envName +
                                " (its approvers: " + auth::joinRoles(env->approval) + ")");
  }
  if (env->fourEyes && by.name == requestedBy) {
    return Status::Unauthorized("four eyes: " + envName +
                                "'s deploys are approved by someone other than who asked (" +
                                by.name + ")");
  }
  return Status::Ok();
}

}  // namespace boucle::deploy
