import DestinationApp

DestinationCommand.main()
