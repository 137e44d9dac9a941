; builtin:tiny — corral's built-in guest: a 512-byte boot sector.
;
; Boots under SeaBIOS (floppy or IDE), stops the PIT so that it idles at 0 %
; CPU, prints "READY" on COM1, echoes what it receives, and acts on lines:
;   panic     pvpanic "panicked" (I/O port 0x505, value 1): GUEST_PANICKED
;   crash     pvpanic "crash loaded" (value 2): GUEST_CRASHLOADED, keeps running
;   reboot    reset through port 0xCF9
;   poweroff  ACPI S5 (port 0x604)
; An NMI (QMP inject-nmi) panics through pvpanic, as a Linux guest with
; kernel.unknown_nmi_panic=1 does.
;
; Rebuild with `deno task build-guest` (needs nasm); the image is embedded in
; lib/vm/guest/_tiny_image.ts.

bits 16
org 0x7c00

COM1      equ 0x3f8
PVPANIC   equ 0x505
LINE      equ 0x0500          ; line buffer, 16 bytes (free BIOS memory)
LINE_LEN  equ 0x0510
LINE_MAX  equ 15

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    cld
    mov [LINE_LEN], al

    ; PIT channel 0 to mode 0 (one shot): SeaBIOS leaves an 18.2 Hz tick running.
    mov al, 0x30
    out 0x43, al
    xor al, al
    out 0x40, al
    out 0x40, al

    ; NMI (vector 2) and COM1 receive (IRQ4 = vector 0x0c) handlers.
    mov word [2*4], nmi
    mov [2*4+2], ax
    mov word [0x0c*4], serial
    mov [0x0c*4+2], ax

    ; COM1: 115200 8N1, no FIFO (an interrupt per byte), receive interrupt on.
    mov dx, COM1+3
    mov al, 0x80
    out dx, al
    mov dx, COM1
    mov al, 1
    out dx, al
    inc dx
    xor al, al
    out dx, al
    mov dx, COM1+3
    mov al, 0x03
    out dx, al
    dec dx
    xor al, al
    out dx, al
    mov dx, COM1+4
    mov al, 0x0b              ; DTR, RTS, OUT2 (gates the IRQ line)
    out dx, al
    mov dx, COM1+1
    mov al, 0x01
    out dx, al

    ; PIC: unmask IRQ4, mask IRQ0.
    in al, 0x21
    and al, 0xef
    or al, 0x01
    out 0x21, al

    mov si, msg_ready
    call print
idle:
    sti
    hlt
    jmp idle

; Print the zero-terminated string at SI.
print:
    lodsb
    test al, al
    jz .done
    call putc
    jmp print
.done:
    ret

; Send AL on COM1 once the transmitter is ready.
putc:
    push dx
    push ax
    mov dx, COM1+5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop ax
    mov dx, COM1
    out dx, al
    pop dx
    ret

nmi:
    push ax
    push dx
    push si
    mov si, msg_nmi
    call print
    call do_panic
    pop si
    pop dx
    pop ax
    iret

serial:
    push ax
    push bx
    push cx
    push dx
    push si
    push di
.next:
    mov dx, COM1+5
    in al, dx
    test al, 1
    jz .eoi
    mov dx, COM1
    in al, dx
    cmp al, 13
    je .line
    cmp al, 10
    je .line
    call putc
    mov bl, [LINE_LEN]
    cmp bl, LINE_MAX
    jae .next
    xor bh, bh
    mov [LINE+bx], al
    inc byte [LINE_LEN]
    jmp .next
.line:
    mov si, msg_crlf
    call print
    call run_line
    mov byte [LINE_LEN], 0
    jmp .next
.eoi:
    mov al, 0x20
    out 0x20, al
    pop di
    pop si
    pop dx
    pop cx
    pop bx
    pop ax
    iret

; Run the command in the line buffer, if it names one.
run_line:
    cmp byte [LINE_LEN], 0
    je .done
    mov di, commands
.entry:
    mov cl, [LINE_LEN]
    mov al, [di]              ; length of this entry's name, 0 ends the table
    test al, al
    jz .unknown
    cmp al, cl
    jne .skip
    push di
    inc di
    mov si, LINE
    xor ch, ch
    repe cmpsb
    pop di
    jne .skip
    xor ah, ah
    add di, ax
    jmp [di+1]
.skip:
    xor ah, ah
    add di, ax
    add di, 3
    jmp .entry
.unknown:
    mov si, msg_unknown
    call print
.done:
    ret

do_panic:
    mov al, 1
    jmp pvpanic
do_crash:
    mov al, 2
pvpanic:
    mov dx, PVPANIC
    out dx, al
    ret
do_reboot:
    mov al, 0x06
    mov dx, 0xcf9
    out dx, al
    ret
do_poweroff:
    mov ax, 0x2000
    mov dx, 0x604
    out dx, ax
    ret

commands:
    db 5, "panic"
    dw do_panic
    db 5, "crash"
    dw do_crash
    db 6, "reboot"
    dw do_reboot
    db 8, "poweroff"
    dw do_poweroff
    db 0

msg_ready:   db "READY", 13, 10, 0
msg_nmi:     db "PANIC: NMI", 13, 10, 0
msg_crlf:    db 13, 10, 0
msg_unknown: db "unknown command; try panic, crash, reboot, poweroff", 13, 10, 0

times 510-($-$$) db 0
dw 0xaa55
