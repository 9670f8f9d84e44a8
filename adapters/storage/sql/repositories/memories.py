class SqlMemories:
    def __init__(self, executor): pass
