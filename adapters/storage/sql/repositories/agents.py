class SqlAgentBios:
    def __init__(self, executor): pass
class SqlAgents:
    def __init__(self, executor): pass
class SqlProfileMetadata:
    def __init__(self, executor): pass
