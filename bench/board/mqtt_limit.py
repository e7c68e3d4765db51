# Board benchmark (bench/board.py), the limit: QoS 0 round trips by plain C on the same Mongoose in
# the same firmware (boards/qemu-virt-rv32/c_limit.c), through the same broker.
import board

print("FIGURE c_mqtt_round_trip_instructions %d" % board.c_mqtt_round_trips(20, 200))
print("DONE")
