"""``preload(array, index)``: ask the CPU to start loading ``array[index]`` into its caches.

The replay loop knows the trace's future, so it preloads the per-vector state of the
access a few steps ahead; without it, each access waits for a cache miss on its vector's
``slot_of`` entry (and a policy's per-vector metadata) and, behind an unpredictable
hit/miss branch, the misses of successive accesses do not overlap. A hint only: it never
faults and changes no result. Implemented as LLVM's ``llvm.prefetch`` (read, high
locality, data cache).
"""

from llvmlite import ir
from numba import config, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def preload(typingctx, array, index):
    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                       wraparound=False)
        i32, byte_ptr = ir.IntType(32), ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [byte_ptr, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # one declaration per module, whatever the array's type: a byte pointer
        builder.call(fn, [builder.bitcast(ptr, byte_ptr), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


if config.DISABLE_JIT:  # RECSIM_DEBUG=1: the loop runs as plain Python; a hint is nothing
    def preload(array, index):  # noqa: F811
        pass
