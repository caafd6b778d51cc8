"""Chat commands, written once: the catalogue, the neutral reply, one handler per command.

Slack parses its ``/wirewatch …`` text into a catalogue command, Discord builds its
app_commands from the same catalogue; both call :class:`~bot.core.commands.handlers.Commands`
and render the neutral :class:`~bot.core.commands.reply.Reply` natively.
"""
