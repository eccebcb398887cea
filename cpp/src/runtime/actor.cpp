#include "runtime/actor.h"

#include "core/error.h"

namespace millstream {

namespace {
// Messages handled per task before the actor yields its thread to other tasks.
constexpr int kMessagesPerTask = 16;
}  // namespace

void Actor::Enqueue(Message message) {
  bool schedule = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    inbox_.push_back(std::move(message));
    if (!scheduled_) schedule = scheduled_ = true;
  }
  scheduler_->OnQueued();
  if (schedule) scheduler_->Spawn([this] { Drain(); });
}

void Actor::Drain() {
  for (int handled = 0; handled < kMessagesPerTask; ++handled) {
    if (scheduler_->cancelled()) throw Cancelled();
    Message message;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (inbox_.empty()) {
        scheduled_ = false;
        return;
      }
      message = std::move(inbox_.front());
      inbox_.pop_front();
    }
    Handle(message);
    scheduler_->OnHandled();
  }
  scheduler_->Spawn([this] { Drain(); });
}

}  // namespace millstream
