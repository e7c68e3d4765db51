# Board benchmark (bench/board.py), RAM on the emulated board: the host asks GET /m/<tag> and the
# board prints "MEM tag c_heap gc_heap" (after a collection) from inside that request's handler:
# "base" with the host's measuring connection open, "idle" once the host holds IDLE_CONNECTIONS
# more keep-alive connections idle, "inflight" for the handler's own request; right after that
# request the main loop prints "MEM after" (the same state, the request gone). "done" ends it.
import gc

import mongoose

state = {"after": False, "done": False}


def used():
    gc.collect()
    return mongoose.memory()["used"], gc.mem_alloc()


def measure(request):
    tag = request.path.rsplit("/", 1)[-1]
    c_heap, gc_heap = used()
    print("MEM %s %d %d" % (tag, c_heap, gc_heap))
    state["after"] = tag == "inflight"
    state["done"] = tag == "done"
    return "ok"


def epname(data):
    return "hello"


mongoose.init(epname, lambda user, pwd: user == "admin" and pwd == "istrator", url="http://0.0.0.0:8000")
mongoose.route("/m/*", measure, auth=False)
print("READY")
for _ in range(6000):  # bounded: 60 s of polls at most
    mongoose.poll(10)
    if state["after"]:
        state["after"] = False
        c_heap, gc_heap = used()
        print("MEM after %d %d" % (c_heap, gc_heap))
    if state["done"]:
        break
mongoose.poll(20)
print("DONE")
