// An actor owns an inbox and processes its messages serially on the TBB arena: one task drains
// the inbox at a time, so the actor's state needs no locks, and actors run in parallel.
// Non-source actors never block; the run's in-flight message count bounds memory, and sources
// pause while it is above the limit (backpressure up to the sources).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>

#include "runtime/message.h"

namespace millstream {

class Scheduler;

class Actor {
 public:
  explicit Actor(Scheduler* scheduler) : scheduler_(scheduler) {}
  virtual ~Actor() = default;
  void Enqueue(Message message);

 protected:
  virtual void Handle(Message& message) = 0;
  Scheduler* scheduler() const { return scheduler_; }

 private:
  void Drain();

  Scheduler* scheduler_;
  std::mutex mutex_;
  std::deque<Message> inbox_;
  bool scheduled_ = false;
};

// Runs tasks on the arena and keeps the in-flight count for backpressure.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual void Spawn(std::function<void()> task) = 0;
  virtual bool cancelled() const = 0;
  // Called by Actor when a message is queued / handled.
  virtual void OnQueued() = 0;
  virtual void OnHandled() = 0;
};

}  // namespace millstream
