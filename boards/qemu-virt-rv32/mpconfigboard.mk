# ports/qemu board definition for pythongoose's emulated board (make qemu passes BOARD_DIR=this folder).
# Same machine and CPU as the port's VIRT_RV32; our own linker script (TLS block, heap, every section).
QEMU_ARCH = riscv32
QEMU_MACHINE = virt

CFLAGS += -DQEMU_SOC_VIRT
CFLAGS += -DMICROPY_HW_MCU_NAME='"$(RV32_ARCH)"'
# QEMU's restricted user network reaches no name server: a broker host name is refused at
# connect() with a clear error instead of a DNS query that can never be answered.
CFLAGS += -DPYTHONGOOSE_NO_NAME_SERVICE

LDSCRIPT = $(BOARD_DIR)/virt-rv32.ld

SRC_BOARD_O += shared/runtime/gchelper_native.o shared/runtime/gchelper_rv32i.o

MPY_CROSS_FLAGS += -march=rv32imc

# The Rust archive (Rust + Mongoose) after every object: the port puts LDFLAGS first on its link
# line. GNU ld 2.40 crashes on the archive's debug info, so it is not read.
LIBS += $(PYTHONGOOSE_LIB)
LDFLAGS += -Wl,--strip-debug
$(BUILD)/firmware.elf: $(PYTHONGOOSE_LIB)
