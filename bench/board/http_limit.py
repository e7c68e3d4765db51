# Board benchmark (bench/board.py), the limit: the same GET /api/* with Basic auth served by plain C
# on the same Mongoose in the same firmware (boards/qemu-virt-rv32/c_limit.c).
import board

print("READY")
print("FIGURE c_get_instructions %d" % board.c_http_server(20, 200))
print("DONE")
