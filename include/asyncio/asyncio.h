// asyncio/asyncio.h — everything: #include "asyncio/asyncio.h".
#ifndef ASYNCIO_ASYNCIO_H_
#define ASYNCIO_ASYNCIO_H_

#include "asyncio/debug.h"       // IWYU pragma: export
#include "asyncio/errors.h"      // IWYU pragma: export
#include "asyncio/event_loop.h"  // IWYU pragma: export
#include "asyncio/future.h"      // IWYU pragma: export
#include "asyncio/gather.h"      // IWYU pragma: export
#include "asyncio/locks.h"       // IWYU pragma: export
#include "asyncio/outcome.h"     // IWYU pragma: export
#include "asyncio/queues.h"      // IWYU pragma: export
#include "asyncio/repeat.h"      // IWYU pragma: export
#include "asyncio/run.h"         // IWYU pragma: export
#include "asyncio/shield.h"      // IWYU pragma: export
#include "asyncio/sleep.h"       // IWYU pragma: export
#include "asyncio/source_location.h"  // IWYU pragma: export
#include "asyncio/streams.h"     // IWYU pragma: export
#include "asyncio/task.h"        // IWYU pragma: export
#include "asyncio/task_group.h"  // IWYU pragma: export
#include "asyncio/threads.h"     // IWYU pragma: export
#include "asyncio/timeouts.h"    // IWYU pragma: export
#include "asyncio/version.h"     // IWYU pragma: export
#include "asyncio/wait.h"        // IWYU pragma: export

#endif  // ASYNCIO_ASYNCIO_H_
