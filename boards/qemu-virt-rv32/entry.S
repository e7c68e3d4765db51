// First instructions of the emulated board's firmware (the ELF entry, see virt-rv32.ld): point `tp`
// at the TLS block picolibc's errno and rand state live in, then run the port's own start code
// (ports/qemu/mcu/rv32/entrypoint.s: gp, stack, bss, then _entry_point and main).
    .section .text.pg_board_entry, "ax", @progbits
    .global pg_board_entry
    .type pg_board_entry, @function
pg_board_entry:
    .option push
    .option norelax
    la   tp, __tls_base
    .option pop
    tail start
    .size pg_board_entry, . - pg_board_entry
